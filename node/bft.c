/* node/bft.c: BFT consensus among the validators of genesis (DESIGN §5).
 *
 * The loop thread drives the pure engine of consensus/engine.c: it feeds
 * it verified messages from peers (node/p2p.c), timeouts and the results of
 * the executor thread, and carries out its actions.  The executor thread owns
 * the ledger's block execution: making a block to propose, validating a
 * proposed block (kept, executed, until a decision commits or discards it),
 * committing, and applying blocks fetched from peers (block sync).
 *
 * Before any proposal or vote leaves, what it signs is recorded in
 * DATA/sign_state with fsync (node/signstate.h); a message that would
 * conflict with it is never signed. */
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consensus/engine.h"
#include "engine.h"
#include "ledger/block.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/tx.h"
#include "log.h"
#include "node.h"
#include "p2p.h"
#include "permit.pb-c.h"
#include "signstate.h"

#define BLOCK_STORE 32          /* blocks kept for the current height */
#define STORE_MAX_BYTES (512u << 20) /* ... and their bytes, early ones included */
#define SYNC_MAX_BLOCKS 64      /* per request */
#define SYNC_MAX_BYTES (32u << 20)
#define GOSSIP_MS 20            /* transactions admitted here go out this often */
#define GOSSIP_MAX 2000         /* per frame */
#define AHEAD_MAX 256           /* messages of the next height kept until we get there */
#define RESEND_MAX 8            /* our latest messages of this height, sent again */
#define RESEND_MS 1000          /* ... this often while the height does not advance */
#define RELAY_MAX 256           /* others' votes of this height, relayed with ours */
#define SYNC_ANSWER_MS 5000     /* a sync request unanswered this long is given up */
#define AHEAD_SYNC_MS 3000      /* still a height behind after this long: fetch blocks */

/* A block as received or made: canonical header bytes and the envelopes. */
typedef struct {
    cons_hash hash;
    ledger_header hdr;
    uint8_t *hdr_bytes;
    size_t hdr_len;
    uint8_t **txs;
    size_t *lens;
    size_t n;
    size_t bytes;             /* what it holds, for the memory bound */
    int has_last_commit;      /* the previous block's certificate its header names */
    ledger_commit last_commit;
} blk;

static void blk_free(blk *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->txs[i]);
    free(b->txs);
    free(b->lens);
    free(b->hdr_bytes);
    free(b);
}

/* From a protobuf Block, bounded; NULL when malformed. */
static blk *blk_from_proto(const Permit__Block *pb, size_t max_txs)
{
    if (pb == NULL || pb->header.len == 0 || pb->header.len > LEDGER_MAX_HEADER_BYTES ||
        pb->n_txs > max_txs)
        return NULL;
    blk *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    if (ledger_header_decode(&b->hdr, pb->header.data, pb->header.len, NULL) != 0)
        goto bad;
    ledger_header_hash(&b->hdr, b->hash.b);
    b->hdr_bytes = malloc(pb->header.len);
    b->txs = calloc(pb->n_txs ? pb->n_txs : 1, sizeof *b->txs);
    b->lens = calloc(pb->n_txs ? pb->n_txs : 1, sizeof *b->lens);
    if (!b->hdr_bytes || !b->txs || !b->lens)
        goto bad;
    memcpy(b->hdr_bytes, pb->header.data, pb->header.len);
    b->hdr_len = pb->header.len;
    for (size_t i = 0; i < pb->n_txs; i++) {
        if (pb->txs[i].len == 0 || pb->txs[i].len > LEDGER_MAX_ENVELOPE)
            goto bad;
        b->txs[i] = malloc(pb->txs[i].len);
        if (b->txs[i] == NULL)
            goto bad;
        memcpy(b->txs[i], pb->txs[i].data, pb->txs[i].len);
        b->lens[i] = pb->txs[i].len;
        b->bytes += pb->txs[i].len;
        b->n = i + 1;
    }
    b->bytes += pb->header.len;
    if (pb->last_commit) {
        if (ledger_commit_from_pb(&b->last_commit, pb->last_commit, NULL) != 0)
            goto bad;
        b->has_last_commit = 1;
    }
    return b;
bad:
    blk_free(b);
    return NULL;
}

/* Fill a protobuf Block that points into b (no copies); lc holds the
 * protobuf form of its last_commit. */
static void blk_to_proto(const blk *b, Permit__Block *pb, ProtobufCBinaryData *txs,
                         ledger_commit_pb *lc)
{
    permit__block__init(pb);
    if (b->has_last_commit) {
        ledger_commit_to_pb(&b->last_commit, lc);
        pb->last_commit = &lc->pc;
    }
    pb->header.data = b->hdr_bytes;
    pb->header.len = b->hdr_len;
    for (size_t i = 0; i < b->n; i++) {
        txs[i].data = b->txs[i];
        txs[i].len = b->lens[i];
    }
    pb->n_txs = b->n;
    pb->txs = txs;
}

/* ---- executor jobs ---- */

typedef enum { J_BUILD, J_VALIDATE, J_COMMIT, J_SYNC } job_kind;

typedef struct job {
    job_kind kind;
    uint64_t height;
    uint32_t round;
    cons_hash hash;
    /* BUILD: envelopes to try (copies); VALIDATE/COMMIT: the block */
    uint8_t **txs;
    size_t *lens;
    size_t n;
    blk *block;               /* VALIDATE, COMMIT: owned copy of the block */
    uint8_t *trusted;         /* VALIDATE: signatures verified at admission */
    ledger_commit cert;       /* COMMIT */
    blk **sync_blocks;        /* SYNC */
    ledger_commit *sync_certs;
    size_t n_sync;
    /* results */
    int ok;
    ledger_err err;
    blk *built;               /* BUILD: the block made */
    uint8_t (*refused_ids)[32];/* BUILD: transactions the block refused */
    ledger_err *refused_errs;
    size_t n_refused;
    ledger_tx_result *results;/* COMMIT: what each transaction did */
    size_t n_results;
    uint64_t exec_us;
    size_t synced;            /* SYNC: blocks applied */
    struct job *next;
} job;

typedef struct {
    node_engine base;
    node *n;
    cons_engine *ce;
    node_p2p *p2p;
    /* executor */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *jq_head, *jq_tail;
    int running, stop;
    ledger_exec *held;        /* executor thread: the block validated or built */
    cons_hash held_hash;
    ledger_tx_result *held_results;
    size_t held_n;
    /* loop thread */
    blk *blocks[BLOCK_STORE];
    size_t n_blocks;
    size_t held_bytes;        /* of blocks and ahead_blk */
    cons_hash await_validate[BLOCK_STORE]; /* asked to validate, block not here yet */
    size_t n_await;
    int want_value;           /* GET_VALUE pending */
    int committing;           /* a decided block is being written: its txs are still pooled */
    uint64_t want_height;
    uint32_t want_round;
    int building;
    node_sign_state sign;
    char sign_path[NODE_PATH_MAX + 32];
    uint64_t last_commit_ms;
    struct event *heartbeat_ev, *build_ev, *gossip_ev;
    int syncing;
    uint64_t sync_target;
    unsigned sync_peer;       /* asked last; only its answer counts */
    uint64_t sync_asked_ms;   /* when (0: its answer is being applied) */
    unsigned sync_shun_peer;  /* did not answer: not asked again until */
    uint64_t sync_shun_until;
    uint8_t **gossip;         /* envelopes admitted here, to send */
    size_t *gossip_len;
    size_t n_gossip;
    int stopped;
    uint64_t commits_done;
    /* messages (and proposed blocks) of the next height, verified */
    cons_msg ahead[AHEAD_MAX];
    blk *ahead_blk[AHEAD_MAX];
    size_t n_ahead;
    uint64_t ahead_since;     /* first message of the next height: when */
    /* our own signed messages of the current height, packed: votes are sent
     * once, and a peer that restarted or lost them would wait forever */
    uint8_t *resend[RESEND_MAX];
    size_t resend_len[RESEND_MAX];
    uint64_t resend_height;
    size_t n_resend;
    struct event *resend_ev;
    /* verified votes of other validators at resend_height, relayed with
     * ours: a proof of lock or a round's precommits must reach a peer that
     * missed them (a dropped link, a restart) even when their signer is
     * down; one per (validator, type, round) */
    uint8_t *relay[RELAY_MAX];
    size_t relay_len[RELAY_MAX];
    uint32_t relay_key[RELAY_MAX][3];
    size_t n_relay;
    struct timer_arg *timers; /* the engine's pending timeouts, freed at exit */
} bft;

typedef struct timer_arg {
    bft *b;
    cons_step step;
    uint64_t height;
    uint32_t round;
    struct event *ev;
    struct timer_arg *prev, *next;
} timer_arg;

static void timer_unlink(bft *b, timer_arg *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        b->timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    event_free(t->ev);
    free(t);
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void job_free(job *j)
{
    if (j == NULL)
        return;
    for (size_t i = 0; i < j->n; i++)
        free(j->txs[i]);
    free(j->txs);
    free(j->lens);
    blk_free(j->block);
    free(j->trusted);
    blk_free(j->built);
    free(j->refused_ids);
    free(j->refused_errs);
    free(j->results);
    for (size_t i = 0; i < j->n_sync; i++)
        blk_free(j->sync_blocks[i]);
    free(j->sync_blocks);
    free(j->sync_certs);
    free(j);
}

static void drop_held(bft *b)
{
    if (b->held) {
        ledger_exec_free(b->held);
        b->held = NULL;
    }
    free(b->held_results);
    b->held_results = NULL;
    b->held_n = 0;
}

/* executor: make a block of the job's transactions on top of the tip */
static void run_build(bft *b, job *j)
{
    node *n = b->n;
    drop_held(b);
    ledger_tip tip;
    ledger_get_tip(n->L, &tip);
    if (tip.height + 1 != j->height) {
        ledger_fail(&j->err, LEDGER_ERR_INVALID, NULL, "the ledger moved on to height %llu",
                    (unsigned long long)tip.height);
        return;
    }
    ledger_block_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    uint64_t now = node_now_ms();
    ctx.time = now > tip.time ? now : tip.time + 1;
    memcpy(ctx.proposer, n->key.pub, 32);
    ledger_commit last;
    int have_last = tip.height > 0 && ledger_get_commit(n->L, tip.height, &last, &j->err) == 1;
    if (have_last)
        ledger_commit_hash(&last, ctx.last_commit_hash);
    ledger_exec *x = NULL;
    if (ledger_exec_begin(n->L, &ctx, &x, &j->err) != 0)
        return;
    blk *out = calloc(1, sizeof *out);
    j->refused_ids = calloc(j->n ? j->n : 1, 32);
    j->refused_errs = calloc(j->n ? j->n : 1, sizeof *j->refused_errs);
    ledger_tx_result *res = calloc(j->n ? j->n : 1, sizeof *res);
    if (out)
        out->txs = calloc(j->n ? j->n : 1, sizeof *out->txs),
        out->lens = calloc(j->n ? j->n : 1, sizeof *out->lens);
    if (!out || !out->txs || !out->lens || !j->refused_ids || !j->refused_errs || !res) {
        ledger_fail(&j->err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    size_t kept = 0;
    for (size_t i = 0; i < j->n; i++) {
        ledger_err e;
        if (ledger_exec_tx(x, j->txs[i], j->lens[i], LEDGER_SIG_TRUSTED, &res[kept], &e) == 0) {
            out->txs[out->n] = j->txs[i];
            out->lens[out->n++] = j->lens[i];
            j->txs[i] = NULL;
            kept++;
            continue;
        }
        if (e.code == LEDGER_ERR_IO || e.code == LEDGER_ERR_NOMEM) {
            j->err = e;
            goto fail;
        }
        ledger_tx tx;
        if (ledger_tx_decode(&tx, j->txs[i], j->lens[i], n->g->chain_id, NULL) == 0 ||
            tx.env != NULL)
            memcpy(j->refused_ids[j->n_refused], tx.id, 32);
        ledger_tx_release(&tx);
        j->refused_errs[j->n_refused++] = e;
    }
    ledger_header h;
    if (ledger_exec_finish(x, &h, &j->err) != 0)
        goto fail;
    out->hdr = h;
    if (have_last) {
        out->last_commit = last;
        out->has_last_commit = 1;
    }
    ledger_header_hash(&h, out->hash.b);
    out->hdr_bytes = malloc(LEDGER_MAX_HEADER_BYTES);
    if (out->hdr_bytes == NULL ||
        ledger_header_encode(&h, out->hdr_bytes, LEDGER_MAX_HEADER_BYTES, &out->hdr_len) != 0)
        goto fail;
    b->held = x;
    b->held_hash = out->hash;
    b->held_results = res;
    b->held_n = kept;
    j->built = out;
    j->hash = out->hash;
    j->ok = 1;
    return;
fail:
    free(res);
    blk_free(out);
    ledger_exec_free(x);
}

static void run_validate(bft *b, job *j)
{
    node *n = b->n;
    drop_held(b);
    blk *bl = j->block;
    if (bl->hdr.time > node_now_ms() + n->cfg.max_clock_drift_ms) {
        ledger_fail(&j->err, LEDGER_ERR_RULE, "block_time",
                    "block time is %llu ms ahead of this node's clock",
                    (unsigned long long)(bl->hdr.time - node_now_ms()));
        return;
    }
    ledger_tx_result *res = calloc(bl->n ? bl->n : 1, sizeof *res);
    ledger_exec *x = NULL;
    if (res == NULL ||
        ledger_validate_block(n->L, bl->hdr_bytes, bl->hdr_len, (const uint8_t *const *)bl->txs,
                              bl->lens, bl->n, bl->has_last_commit ? &bl->last_commit : NULL,
                              j->trusted, res, &x, &j->err) != 0) {
        free(res);
        return;
    }
    b->held = x;
    b->held_hash = bl->hash;
    b->held_results = res;
    b->held_n = bl->n;
    j->ok = 1;
}

static void run_commit(bft *b, job *j)
{
    node *n = b->n;
    uint64_t t0 = mono_us();
    if (b->held == NULL || !cons_hash_eq(&b->held_hash, &j->hash)) {
        /* decided a block we did not execute last: execute it now */
        drop_held(b);
        if (j->block == NULL) {
            ledger_fail(&j->err, LEDGER_ERR_INVALID, NULL, "the decided block is not here");
            return;
        }
        blk *bl = j->block;
        ledger_tx_result *res = calloc(bl->n ? bl->n : 1, sizeof *res);
        ledger_exec *x = NULL;
        if (res == NULL ||
            ledger_validate_block(n->L, bl->hdr_bytes, bl->hdr_len,
                                  (const uint8_t *const *)bl->txs, bl->lens, bl->n,
                                  bl->has_last_commit ? &bl->last_commit : NULL, NULL, res, &x,
                                  &j->err) != 0) {
            free(res);
            return;
        }
        b->held = x;
        b->held_hash = bl->hash;
        b->held_results = res;
        b->held_n = bl->n;
    }
    if (ledger_exec_commit(b->held, &j->cert, &j->err) != 0) {
        drop_held(b);
        return;
    }
    ledger_exec_free(b->held);
    b->held = NULL;
    j->results = b->held_results;
    j->n_results = b->held_n;
    b->held_results = NULL;
    b->held_n = 0;
    j->exec_us = mono_us() - t0;
    j->ok = 1;
}

static void run_sync(bft *b, job *j)
{
    node *n = b->n;
    drop_held(b);
    for (size_t i = 0; i < j->n_sync; i++) {
        blk *bl = j->sync_blocks[i];
        if (bl->hdr.height != ledger_height(n->L) + 1)
            continue; /* already have it */
        if (ledger_commit_verify(n->g, &j->sync_certs[i], bl->hash.b, bl->hdr.height, &j->err) !=
                0 ||
            ledger_apply_block(n->L, bl->hdr_bytes, bl->hdr_len, (const uint8_t *const *)bl->txs,
                               bl->lens, bl->n, bl->has_last_commit ? &bl->last_commit : NULL,
                               &j->sync_certs[i], 0, &j->err) != 0)
            break;
        j->synced++;
    }
    j->ok = 1;
}

static void job_done(node *n, void *arg);

static void *executor(void *arg)
{
    bft *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->jq_head == NULL && !b->stop)
            pthread_cond_wait(&b->cv, &b->mu);
        if (b->jq_head == NULL)
            break;
        job *j = b->jq_head;
        b->jq_head = j->next;
        if (b->jq_head == NULL)
            b->jq_tail = NULL;
        b->running = 1;
        pthread_mutex_unlock(&b->mu);
        switch (j->kind) {
        case J_BUILD:
            run_build(b, j);
            break;
        case J_VALIDATE:
            run_validate(b, j);
            break;
        case J_COMMIT:
            run_commit(b, j);
            break;
        case J_SYNC:
            run_sync(b, j);
            break;
        }
        node_post(b->n, job_done, j);
        pthread_mutex_lock(&b->mu);
        b->running = 0;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    drop_held(b);
    return NULL;
}

static void submit(bft *b, job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&b->mu);
    if (b->jq_tail)
        b->jq_tail->next = j;
    else
        b->jq_head = j;
    b->jq_tail = j;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* ---- block store (loop thread) ---- */

static blk *store_find(bft *b, const cons_hash *h)
{
    for (size_t i = 0; i < b->n_blocks; i++)
        if (cons_hash_eq(&b->blocks[i]->hash, h))
            return b->blocks[i];
    return NULL;
}

static void store_clear(bft *b)
{
    for (size_t i = 0; i < b->n_blocks; i++) {
        b->held_bytes -= b->blocks[i]->bytes;
        blk_free(b->blocks[i]);
    }
    b->n_blocks = 0;
    b->n_await = 0;
}

static void resend_clear(bft *b)
{
    for (size_t i = 0; i < b->n_resend; i++)
        free(b->resend[i]);
    b->n_resend = 0;
    for (size_t i = 0; i < b->n_relay; i++)
        free(b->relay[i]);
    b->n_relay = 0;
}

static uint8_t *pack_frame(const Permit__Frame *f, size_t *len)
{
    *len = permit__frame__get_packed_size(f);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        permit__frame__pack(f, buf);
    return buf;
}

/* Keep a verified vote of another validator at the current height for
 * relaying (the first per validator, type and round; the oldest goes when
 * full). */
static void relay_keep(bft *b, uint64_t height, const Permit__ConsensusMsg *cm)
{
    if (height != b->resend_height) {
        resend_clear(b);
        b->resend_height = height;
    }
    for (size_t i = 0; i < b->n_relay; i++)
        if (b->relay_key[i][0] == cm->validator && b->relay_key[i][1] == cm->type &&
            b->relay_key[i][2] == cm->round)
            return;
    Permit__ConsensusMsg vote = *cm;
    vote.block = NULL;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_CONSENSUS;
    f.consensus = &vote;
    size_t len;
    uint8_t *buf = pack_frame(&f, &len);
    if (buf == NULL)
        return;
    if (b->n_relay == RELAY_MAX) {
        free(b->relay[0]);
        memmove(b->relay, b->relay + 1, (RELAY_MAX - 1) * sizeof b->relay[0]);
        memmove(b->relay_len, b->relay_len + 1, (RELAY_MAX - 1) * sizeof b->relay_len[0]);
        memmove(b->relay_key, b->relay_key + 1, (RELAY_MAX - 1) * sizeof b->relay_key[0]);
        b->n_relay--;
    }
    b->relay[b->n_relay] = buf;
    b->relay_len[b->n_relay] = len;
    b->relay_key[b->n_relay][0] = cm->validator;
    b->relay_key[b->n_relay][1] = (uint32_t)cm->type;
    b->relay_key[b->n_relay][2] = cm->round;
    b->n_relay++;
}

/* Keep a packed frame of ours for resending (the oldest goes first). */
static void resend_keep(bft *b, uint64_t height, const Permit__Frame *f)
{
    if (height != b->resend_height) {
        resend_clear(b);
        b->resend_height = height;
    }
    size_t len;
    uint8_t *buf = pack_frame(f, &len);
    if (buf == NULL)
        return;
    if (b->n_resend == RESEND_MAX) {
        free(b->resend[0]);
        memmove(b->resend, b->resend + 1, (RESEND_MAX - 1) * sizeof b->resend[0]);
        memmove(b->resend_len, b->resend_len + 1, (RESEND_MAX - 1) * sizeof b->resend_len[0]);
        b->n_resend--;
    }
    b->resend[b->n_resend] = buf;
    b->resend_len[b->n_resend++] = len;
}

static void ahead_clear(bft *b)
{
    for (size_t i = 0; i < b->n_ahead; i++) {
        if (b->ahead_blk[i])
            b->held_bytes -= b->ahead_blk[i]->bytes;
        blk_free(b->ahead_blk[i]);
    }
    b->n_ahead = 0;
    b->ahead_since = 0;
}

static blk *blk_copy(const blk *s)
{
    Permit__Block pb;
    ProtobufCBinaryData *txs = calloc(s->n ? s->n : 1, sizeof *txs);
    static ledger_commit_pb lc; /* loop thread only */
    if (txs == NULL)
        return NULL;
    blk_to_proto(s, &pb, txs, &lc);
    blk *c = blk_from_proto(&pb, SIZE_MAX);
    free(txs);
    return c;
}

static void submit_validate(bft *b, const blk *bl);

/* Keep a block (takes ownership); starts a validation that waited for it. */
static void store_add(bft *b, blk *bl)
{
    if (store_find(b, &bl->hash) || b->n_blocks == BLOCK_STORE) {
        blk_free(bl);
        return;
    }
    b->held_bytes += bl->bytes; /* counted when it arrived (ahead) or now */
    b->blocks[b->n_blocks++] = bl;
    for (size_t i = 0; i < b->n_await; i++)
        if (cons_hash_eq(&b->await_validate[i], &bl->hash)) {
            b->await_validate[i] = b->await_validate[--b->n_await];
            submit_validate(b, bl);
            return;
        }
}

static void submit_validate(bft *b, const blk *bl)
{
    job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return;
    j->kind = J_VALIDATE;
    j->height = bl->hdr.height;
    j->hash = bl->hash;
    j->block = blk_copy(bl);
    j->trusted = calloc(bl->n ? bl->n : 1, 1);
    if (j->block == NULL || j->trusted == NULL) {
        job_free(j);
        return;
    }
    /* signatures verified at admission are not verified again */
    for (size_t i = 0; i < bl->n; i++) {
        uint8_t id[32];
        ledger_sha256(bl->txs[i], bl->lens[i], id);
        j->trusted[i] = (uint8_t)node_mempool_contains(b->n->mp, id);
    }
    submit(b, j);
}

/* ---- carrying out the engine's actions (loop thread) ---- */

static void drain(bft *b);
static void sync_end(bft *b);

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    timer_arg *t = arg;
    bft *b = t->b;
    cons_step step = t->step;
    uint64_t h = t->height;
    uint32_t r = t->round;
    timer_unlink(b, t);
    if (b->stopped)
        return;
    LOG_DEBUG("consensus: timeout %d at %llu/%u", (int)step, (unsigned long long)h, r);
    cons_on_timeout(b->ce, step, h, r);
    drain(b);
}

static void sign_and_send(bft *b, const cons_msg *m, const node_sign_evidence *ev)
{
    node *n = b->n;
    LOG_DEBUG("consensus: sending %s %llu/%u %s", m->type == CONS_PROPOSAL ? "proposal"
                                                  : m->type == CONS_PREVOTE ? "prevote"
                                                                            : "precommit",
              (unsigned long long)m->height, m->round,
              cons_hash_is_nil(&m->value) ? "nil" : "block");
    int step = m->type == CONS_PROPOSAL ? SIGN_STEP_PROPOSAL
               : m->type == CONS_PREVOTE ? SIGN_STEP_PREVOTE
                                         : SIGN_STEP_PRECOMMIT;
    blk *bl = NULL;
    Permit__Block pb;
    if (m->type == CONS_PROPOSAL && (bl = store_find(b, &m->value)) == NULL) {
        LOG_WARN("consensus: the block to propose at %llu/%u is not here",
                 (unsigned long long)m->height, m->round);
        return;
    }
    const char *why =
        node_sign_refusal(&b->sign, n->g, m->height, m->round, step, m->value.b, ev, NULL, NULL);
    if (why) {
        LOG_WARN("consensus: not signing %s %llu/%u: %s",
                 m->type == CONS_PROPOSAL ? "proposal" : "vote", (unsigned long long)m->height,
                 m->round, why);
        return;
    }
    node_sign_state next;
    node_sign_state_next(&b->sign, m->height, m->round, step, m->value.b, &next);
    ledger_err err;
    if (node_sign_state_save(b->sign_path, &next, &err) != 0) {
        LOG_ERROR("consensus: cannot record what is signed (%s): not signing", err.msg);
        return;
    }
    b->sign = next;
    uint8_t msg[32], sig[64];
    if (m->type == CONS_PROPOSAL)
        ledger_proposal_sighash(n->g->chain_id, m->height, m->round, m->pol_round, m->value.b,
                                msg);
    else
        ledger_vote_sighash(n->g->chain_id, (int)m->type, m->height, m->round, m->value.b, msg);
    if (ledger_sign(&n->key, msg, NULL, sig) != 0)
        return;
    ProtobufCBinaryData *txs = NULL;
    static ledger_commit_pb lc; /* loop thread only */
    if (bl) {
        txs = calloc(bl->n ? bl->n : 1, sizeof *txs);
        if (txs == NULL)
            return;
        blk_to_proto(bl, &pb, txs, &lc);
    }
    Permit__ConsensusMsg cm = PERMIT__CONSENSUS_MSG__INIT;
    cm.type = m->type;
    cm.height = m->height;
    cm.round = m->round;
    cm.pol_round = m->pol_round;
    cm.validator = m->validator;
    cm.sig.data = sig;
    cm.sig.len = 64;
    if (!cons_hash_is_nil(&m->value)) {
        cm.block_hash.data = (uint8_t *)m->value.b;
        cm.block_hash.len = 32;
    }
    if (bl)
        cm.block = &pb;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_CONSENSUS;
    f.consensus = &cm;
    node_p2p_broadcast(b->p2p, &f);
    resend_keep(b, m->height, &f);
    free(txs);
    /* signed and sent: now it counts, with its signature for certificates */
    cons_msg own = *m;
    memcpy(own.sig, sig, 64);
    cons_on_msg(b->ce, &own);
}

static int heartbeat_due(bft *b)
{
    return node_now_ms() - b->last_commit_ms >= b->n->g->params.heartbeat_ms;
}

/* GET_VALUE is answered once transactions wait (and the block interval
 * passed) or the heartbeat is due. */
static void try_build(bft *b)
{
    node *n = b->n;
    if (!b->want_value || b->building || b->committing || b->stopped)
        return;
    size_t waiting = node_mempool_waiting(n->mp);
    /* an empty block only for the heartbeat, or to close a height that
     * already needed more than one round */
    if (waiting == 0 && !heartbeat_due(b) && b->want_round == 0)
        return;
    uint64_t now = node_now_ms(), due = b->last_commit_ms + n->g->params.block_interval_ms;
    if (now < due && waiting < n->g->params.max_block_txs) {
        uint64_t d = due - now;
        struct timeval tv = {(time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000};
        if (!evtimer_pending(b->build_ev, NULL))
            evtimer_add(b->build_ev, &tv);
        return;
    }
    size_t max = n->g->params.max_block_txs;
    size_t want = waiting < max ? waiting : max;
    job *j = calloc(1, sizeof *j);
    mp_tx **list = calloc(want ? want : 1, sizeof *list);
    if (j == NULL || list == NULL) {
        free(j);
        free(list);
        return;
    }
    j->kind = J_BUILD;
    j->height = b->want_height;
    j->round = b->want_round;
    j->txs = calloc(want ? want : 1, sizeof *j->txs);
    j->lens = calloc(want ? want : 1, sizeof *j->lens);
    size_t got = j->txs && j->lens ? node_mempool_peek(n->mp, list, want) : 0;
    for (size_t i = 0; i < got; i++) {
        j->txs[i] = malloc(list[i]->len);
        if (j->txs[i] == NULL)
            break;
        memcpy(j->txs[i], list[i]->env, list[i]->len);
        j->lens[i] = list[i]->len;
        j->n = i + 1;
    }
    free(list);
    b->want_value = 0;
    b->building = 1;
    submit(b, j);
}

static void on_build_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    try_build(arg);
}

static void drain(bft *b)
{
    static cons_action a; /* large; only the loop thread drains, never re-entered */
    if (cons_failed(b->ce))
        return;
    while (cons_next_action(b->ce, &a)) {
        switch (a.kind) {
        case CONS_ACT_BROADCAST: {
            node_sign_evidence ev = {.round = a.ev_round, .n = a.n_sigs, .validators = a.signers,
                                     .sigs = (const uint8_t(*)[64])a.sigs};
            sign_and_send(b, &a.msg, &ev);
            break;
        }
        case CONS_ACT_GET_VALUE:
            LOG_DEBUG("consensus: to propose at %llu/%u", (unsigned long long)a.height, a.round);
            b->want_value = 1;
            b->want_height = a.height;
            b->want_round = a.round;
            try_build(b);
            break;
        case CONS_ACT_VALIDATE: {
            blk *bl = store_find(b, &a.value);
            if (bl)
                submit_validate(b, bl);
            else if (b->n_await < BLOCK_STORE)
                b->await_validate[b->n_await++] = a.value;
            break;
        }
        case CONS_ACT_TIMEOUT: {
            timer_arg *t = calloc(1, sizeof *t);
            if (t == NULL)
                break;
            t->b = b;
            t->step = a.step;
            t->height = a.height;
            t->round = a.round;
            t->ev = evtimer_new(b->n->base, on_timer, t);
            struct timeval tv = {(time_t)(a.delay_ms / 1000),
                                 (suseconds_t)(a.delay_ms % 1000) * 1000};
            if (t->ev == NULL || evtimer_add(t->ev, &tv) != 0) {
                LOG_ERROR("consensus: cannot schedule a timeout at %llu/%u",
                          (unsigned long long)a.height, a.round);
                if (t->ev)
                    event_free(t->ev);
                free(t);
                break;
            }
            t->next = b->timers;
            if (b->timers)
                b->timers->prev = t;
            b->timers = t;
            break;
        }
        case CONS_ACT_COMMIT: {
            job *j = calloc(1, sizeof *j);
            if (j == NULL)
                break;
            j->kind = J_COMMIT;
            j->height = a.height;
            j->hash = a.value;
            j->cert.height = a.height;
            j->cert.round = a.round;
            memcpy(j->cert.block_hash, a.value.b, 32);
            j->cert.n_sigs = a.n_sigs;
            for (size_t i = 0; i < a.n_sigs; i++) {
                j->cert.sigs[i].validator = a.signers[i];
                memcpy(j->cert.sigs[i].sig, a.sigs[i], 64);
            }
            blk *bl = store_find(b, &a.value);
            if (bl)
                j->block = blk_copy(bl);
            /* the next height starts: what was kept for this one goes,
             * and what arrived early for it is handed over */
            b->want_value = 0;
            b->committing = 1;
            store_clear(b);
            submit(b, j);
            size_t k = b->n_ahead;
            b->n_ahead = 0;
            b->ahead_since = 0;
            for (size_t i = 0; i < k; i++) {
                if (b->ahead_blk[i]) {
                    b->held_bytes -= b->ahead_blk[i]->bytes;
                    store_add(b, b->ahead_blk[i]);
                }
                b->ahead_blk[i] = NULL;
                if (b->ahead[i].height == cons_height(b->ce))
                    cons_on_msg(b->ce, &b->ahead[i]);
            }
            break;
        }
        }
    }
    if (cons_failed(b->ce)) {
        LOG_ERROR("consensus: the engine had to drop an action (its queue of %d was full): "
                  "stopping rather than running on with a gap",
                  CONS_MAX_ACTIONS);
        node_stop(b->n);
    }
}

/* ---- executor results (loop thread) ---- */

static void request_sync(bft *b, unsigned peer, uint64_t from);

static void job_done(node *n, void *arg)
{
    job *j = arg;
    bft *b = (bft *)n->engine;
    if (b == NULL || b->stopped) {
        job_free(j);
        return;
    }
    switch (j->kind) {
    case J_BUILD:
        LOG_DEBUG("consensus: made block %llu with %zu transactions (%zu refused)",
                  (unsigned long long)j->height, j->built ? j->built->n : 0, j->n_refused);
        b->building = 0;
        for (size_t i = 0; i < j->n_refused; i++) {
            node_tx_finished(n, j->refused_ids[i], NULL, j->height, &j->refused_errs[i]);
            node_mempool_remove(n->mp, j->refused_ids[i]);
        }
        if (j->n_refused)
            node_mempool_changed(n);
        if (j->ok) {
            blk *bl = j->built;
            j->built = NULL;
            cons_hash h = bl->hash;
            store_add(b, bl);
            cons_on_value(b->ce, j->height, j->round, &h);
        } else {
            LOG_ERROR("consensus: cannot make a block: %s", j->err.msg);
        }
        break;
    case J_VALIDATE:
        LOG_DEBUG("consensus: validated block %llu: %s", (unsigned long long)j->height,
                  j->ok ? "valid" : "invalid");
        if (!j->ok) {
            char hex[65];
            ledger_hex_encode(j->hash.b, 32, hex);
            LOG_WARN("consensus: proposed block %llu (%.16s) is invalid: %s",
                     (unsigned long long)j->height, hex, j->err.msg);
        }
        cons_on_validated(b->ce, j->height, &j->hash, j->ok);
        break;
    case J_COMMIT:
        b->committing = 0;
        if (!j->ok) {
            LOG_ERROR("consensus: block %llu was decided but cannot be committed: %s; "
                      "fetching it from peers",
                      (unsigned long long)j->height, j->err.msg);
            for (unsigned p = 0; p < n->g->n_validators; p++)
                if (node_p2p_is_up(b->p2p, p)) {
                    request_sync(b, p, ledger_height(n->L) + 1);
                    break;
                }
            break;
        }
        b->last_commit_ms = node_now_ms();
        b->commits_done++;
        node_p2p_set_height(b->p2p, j->height);
        for (size_t i = 0; i < j->n_results; i++) {
            uint8_t id[32];
            memcpy(id, j->results[i].tx_id, 32);
            node_tx_finished(n, id, &j->results[i], j->height, NULL);
            node_mempool_remove(n->mp, id);
        }
        node_mempool_changed(n);
        node_metrics_block(&n->metrics, j->exec_us, j->n_results, 0);
        if (j->n_results > 0 || node_log_enabled(NODE_LOG_DEBUG))
            LOG_INFO("block %llu: %zu transactions, round %u, %zu signatures",
                     (unsigned long long)j->height, j->n_results, j->cert.round,
                     j->cert.n_sigs);
        if (node_mempool_waiting(n->mp) > 0)
            cons_activate(b->ce);
        try_build(b);
        break;
    case J_SYNC: {
        uint64_t h = ledger_height(n->L);
        LOG_INFO("sync: applied %zu blocks, now at height %llu%s%s", j->synced,
                 (unsigned long long)h, j->err.msg[0] ? ": " : "", j->err.msg);
        node_p2p_set_height(b->p2p, h);
        b->last_commit_ms = node_now_ms();
        if (h < b->sync_target && j->synced > 0) {
            for (unsigned p = 0; p < n->g->n_validators; p++)
                if (node_p2p_is_up(b->p2p, p)) {
                    request_sync(b, p, h + 1);
                    break;
                }
            break;
        }
        sync_end(b);
        break;
    }
    }
    job_free(j);
    drain(b); /* what the engine decided on these results goes out now */
}

/* ---- peers ---- */

/* Sync is over.  Consensus ran on meanwhile; only if the ledger got past
 * the engine's height (those heights are decided and certified) does it
 * move on.  A sync that brought nothing leaves it exactly as it was: the
 * lock of a height it signed at is never dropped but by a decision. */
static void sync_end(bft *b)
{
    b->syncing = 0;
    atomic_store(&b->n->syncing, 0);
    uint64_t h = ledger_height(b->n->L) + 1;
    if (h > cons_height(b->ce)) {
        store_clear(b);
        ahead_clear(b);
        b->want_value = 0;
        cons_advance(b->ce, h);
    }
    drain(b);
}

static void request_sync(bft *b, unsigned peer, uint64_t from)
{
    Permit__SyncRequest r = PERMIT__SYNC_REQUEST__INIT;
    r.from_height = from;
    r.max_blocks = SYNC_MAX_BLOCKS;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_SYNC_REQUEST;
    f.sync_request = &r;
    if (node_p2p_send(b->p2p, peer, &f) == 0) {
        if (!b->syncing)
            LOG_INFO("sync: behind (height %llu, peers at %llu): fetching blocks from "
                     "validator %u",
                     (unsigned long long)ledger_height(b->n->L),
                     (unsigned long long)b->sync_target, peer);
        b->syncing = 1;
        atomic_store(&b->n->syncing, 1);
        b->sync_peer = peer;
        b->sync_asked_ms = node_now_ms();
    }
}

/* A peer that leaves a sync request unanswered (gone, or withholding
 * blocks) must not keep this node out of consensus: go back to it, and do
 * not ask that peer again for a while. */
static void sync_check_answer(bft *b)
{
    if (!b->syncing || b->sync_asked_ms == 0 ||
        node_now_ms() - b->sync_asked_ms < SYNC_ANSWER_MS)
        return;
    LOG_WARN("sync: validator %u did not answer within %d ms: back to consensus", b->sync_peer,
             SYNC_ANSWER_MS);
    b->sync_shun_peer = b->sync_peer;
    b->sync_shun_until = node_now_ms() + 2 * SYNC_ANSWER_MS;
    sync_end(b);
}

static void maybe_behind(bft *b, unsigned peer, uint64_t peer_height)
{
    if (peer_height > b->sync_target)
        b->sync_target = peer_height;
    uint64_t h = ledger_height(b->n->L);
    if (peer == b->sync_shun_peer && node_now_ms() < b->sync_shun_until)
        return;
    if (!b->syncing && peer_height > h)
        request_sync(b, peer, h + 1);
}

typedef struct {
    bft *b;
    unsigned peer;
    uint64_t from;
    uint32_t max;
    Permit__SyncResponse *resp; /* built by a worker */
    uint8_t *packed;
    size_t len;
} sync_work;

static void sync_sent(node *n, void *arg)
{
    sync_work *w = arg;
    if (n->engine == &w->b->base && !w->b->stopped && w->packed &&
        node_p2p_send_packed(w->b->p2p, w->peer, w->packed, w->len) != 0)
        LOG_WARN("sync: the answer to validator %u (%zu bytes) could not be queued", w->peer,
                 w->len);
    free(w->packed);
    free(w);
}

/* worker thread: read blocks for a peer.  An answer always carries the
 * first block asked for when it exists (a block fits a frame: limits.h), and
 * no more than SYNC_MAX_BYTES in all. */
static void sync_read(void *arg)
{
    sync_work *w = arg;
    node *n = w->b->n;
    uint64_t tip = ledger_height(n->L);
    Permit__SyncResponse resp = PERMIT__SYNC_RESPONSE__INIT;
    resp.peer_height = tip;
    Permit__Block *blocks = calloc(w->max, sizeof *blocks);
    Permit__Block **ptrs = calloc(w->max, sizeof *ptrs);
    ledger_commit *certs = calloc(w->max, sizeof *certs), *lasts = calloc(w->max, sizeof *lasts);
    ledger_commit_pb *cpb = calloc(w->max, sizeof *cpb), *lpb = calloc(w->max, sizeof *lpb);
    uint8_t **hdrs = calloc(w->max, sizeof *hdrs);
    ProtobufCBinaryData **txs = calloc(w->max, sizeof *txs);
    uint8_t ***envs = calloc(w->max, sizeof *envs);
    size_t *ntx = calloc(w->max, sizeof *ntx);
    size_t total = 0, k = 0;
    if (!blocks || !ptrs || !certs || !lasts || !cpb || !lpb || !hdrs || !txs || !envs || !ntx)
        goto out;
    for (uint64_t h = w->from; h <= tip && k < w->max; h++) {
        ledger_header hd;
        size_t hlen, n_ids;
        uint8_t(*ids)[32] = NULL;
        ledger_err err;
        if (ledger_get_block(n->L, h, &hd, &hdrs[k], &hlen, &ids, &n_ids, &err) != 1 ||
            ledger_get_commit(n->L, h, &certs[k], &err) != 1 ||
            (h > 1 && ledger_get_commit(n->L, h - 1, &lasts[k], &err) != 1)) {
            free(ids);
            free(hdrs[k]);
            hdrs[k] = NULL;
            break;
        }
        txs[k] = calloc(n_ids ? n_ids : 1, sizeof **txs);
        envs[k] = calloc(n_ids ? n_ids : 1, sizeof **envs);
        if (!txs[k] || !envs[k]) {
            free(ids);
            break;
        }
        size_t bytes = hlen;
        for (size_t i = 0; i < n_ids; i++) {
            size_t len;
            if (ledger_get_tx(n->L, ids[i], &envs[k][i], &len, NULL, NULL, &err) != 1)
                break;
            txs[k][i].data = envs[k][i];
            txs[k][i].len = len;
            ntx[k] = i + 1;
            bytes += len;
        }
        free(ids);
        permit__block__init(&blocks[k]);
        blocks[k].header.data = hdrs[k];
        blocks[k].header.len = hlen;
        blocks[k].n_txs = ntx[k];
        blocks[k].txs = txs[k];
        ledger_commit_to_pb(&certs[k], &cpb[k]);
        blocks[k].commit = &cpb[k].pc;
        if (h > 1) {
            ledger_commit_to_pb(&lasts[k], &lpb[k]);
            blocks[k].last_commit = &lpb[k].pc;
        }
        bytes = permit__block__get_packed_size(&blocks[k]) + 8;
        k++; /* kept for freeing even when left out below */
        if (k > 1 && total + bytes > SYNC_MAX_BYTES) {
            k--; /* not this one: the next answer starts with it */
            free(hdrs[k]);
            hdrs[k] = NULL;
            for (size_t t = 0; t < ntx[k]; t++)
                free(envs[k][t]);
            ntx[k] = 0;
            break;
        }
        total += bytes;
        ptrs[k - 1] = &blocks[k - 1];
    }
    resp.n_blocks = k;
    resp.blocks = ptrs;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_SYNC_RESPONSE;
    f.sync_response = &resp;
    w->len = permit__frame__get_packed_size(&f);
    w->packed = malloc(w->len ? w->len : 1);
    if (w->packed)
        permit__frame__pack(&f, w->packed);
out:
    for (size_t i = 0; i < w->max && hdrs && envs && ntx; i++) {
        free(hdrs[i]);
        for (size_t t = 0; envs[i] && t < ntx[i]; t++)
            free(envs[i][t]);
        if (envs[i])
            free(envs[i]);
        if (txs)
            free(txs[i]);
    }
    free(blocks);
    free(ptrs);
    free(certs);
    free(lasts);
    free(cpb);
    free(lpb);
    free(hdrs);
    free(txs);
    free(envs);
    free(ntx);
    node_post(n, sync_sent, w);
}

static void on_sync_response(bft *b, unsigned peer, const Permit__SyncResponse *r)
{
    node *n = b->n;
    if (!b->syncing || peer != b->sync_peer || b->sync_asked_ms == 0)
        return; /* unasked for */
    b->sync_asked_ms = 0;
    if (r->peer_height > b->sync_target)
        b->sync_target = r->peer_height;
    size_t k = r->n_blocks < SYNC_MAX_BLOCKS ? r->n_blocks : SYNC_MAX_BLOCKS;
    job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return;
    j->kind = J_SYNC;
    j->sync_blocks = calloc(k ? k : 1, sizeof *j->sync_blocks);
    j->sync_certs = calloc(k ? k : 1, sizeof *j->sync_certs);
    if (!j->sync_blocks || !j->sync_certs) {
        job_free(j);
        return;
    }
    for (size_t i = 0; i < k; i++) {
        blk *bl = blk_from_proto(r->blocks[i], n->g->params.max_block_txs);
        if (bl == NULL ||
            ledger_commit_from_pb(&j->sync_certs[j->n_sync], r->blocks[i]->commit, NULL) != 0) {
            blk_free(bl);
            break;
        }
        j->sync_blocks[j->n_sync++] = bl;
    }
    submit(b, j);
}

static void on_consensus(bft *b, unsigned peer, const Permit__ConsensusMsg *cm)
{
    node *n = b->n;
    /* proposals come straight from their proposer; votes may be relayed
     * (their signature is what counts) */
    if (cm->validator >= n->g->n_validators || cm->sig.len != 64 ||
        cm->type < CONS_PREVOTE || cm->type > CONS_PROPOSAL ||
        (cm->type == CONS_PROPOSAL && cm->validator != peer) ||
        (cm->block_hash.len != 0 && cm->block_hash.len != 32) ||
        cm->pol_round < CONS_NIL_ROUND)
        return;
    cons_msg m;
    memset(&m, 0, sizeof m);
    m.type = (cons_type)cm->type;
    m.height = cm->height;
    m.round = cm->round;
    m.pol_round = cm->pol_round;
    m.validator = cm->validator;
    if (cm->block_hash.len == 32)
        memcpy(m.value.b, cm->block_hash.data, 32);
    memcpy(m.sig, cm->sig.data, 64);
    uint64_t h = cons_height(b->ce);
    if (m.height < h)
        return;
    uint8_t msg[32];
    if (m.type == CONS_PROPOSAL)
        ledger_proposal_sighash(n->g->chain_id, m.height, m.round, m.pol_round, m.value.b, msg);
    else
        ledger_vote_sighash(n->g->chain_id, (int)m.type, m.height, m.round, m.value.b, msg);
    const ledger_department *d = &n->g->departments[n->g->validators[m.validator]];
    if (!ledger_verify(&d->node, msg, 32, m.sig)) {
        LOG_WARN("consensus: bad signature from validator %u (%s)", m.validator, d->id);
        return;
    }
    if (m.height > h + 1) {
        /* a validator signed for a later height: we are behind */
        maybe_behind(b, peer, m.height - 1);
        return;
    }
    if (m.height == h + 1) {
        /* a peer is a height ahead: keep its messages for when we get there,
         * and fetch blocks if we do not get there soon */
        uint64_t now = node_now_ms();
        if (b->ahead_since == 0)
            b->ahead_since = now;
        else if (now - b->ahead_since > AHEAD_SYNC_MS) {
            ahead_clear(b);
            maybe_behind(b, peer, h);
            return;
        }
    }
    blk *bl = NULL;
    if (m.type == CONS_PROPOSAL) {
        /* only the round's proposer may propose, and the blocks kept are
         * bounded in number and bytes */
        if (cons_proposer(b->ce, m.height, m.round) != m.validator || cm->block == NULL)
            return;
        bl = blk_from_proto(cm->block, n->g->params.max_block_txs);
        if (bl == NULL || !cons_hash_eq(&bl->hash, &m.value) || bl->hdr.height != m.height ||
            b->held_bytes + bl->bytes > STORE_MAX_BYTES) {
            blk_free(bl);
            return;
        }
    }
    if (m.height == h + 1) {
        if (b->n_ahead == AHEAD_MAX) {
            blk_free(bl);
            return;
        }
        b->ahead[b->n_ahead] = m;
        b->ahead_blk[b->n_ahead++] = bl;
        if (bl)
            b->held_bytes += bl->bytes;
        return;
    }
    if (bl)
        store_add(b, bl);
    else
        relay_keep(b, m.height, cm);
    cons_on_msg(b->ce, &m);
    drain(b);
}

/* worker: admission of gossiped transactions */
typedef struct {
    bft *b;
    uint8_t **txs;
    size_t *lens;
    uint8_t (*ids)[32];  /* SHA-256 of each envelope: its transaction id */
    int *kinds;          /* from the worker's decode */
    size_t n;
    uint8_t *ok;
} gossip_in;

static void gossip_in_free(gossip_in *g)
{
    for (size_t i = 0; g->txs && i < g->n; i++)
        free(g->txs[i]);
    free(g->txs);
    free(g->lens);
    free(g->ids);
    free(g->kinds);
    free(g->ok);
    free(g);
}

static void gossip_added(node *n, void *arg)
{
    gossip_in *g = arg;
    int added = 0;
    if (n->engine == &g->b->base && !g->b->stopped)
        for (size_t i = 0; i < g->n; i++)
            if (g->ok[i] && node_mempool_add(n->mp, g->ids[i], g->txs[i], g->lens[i],
                                             g->kinds[i], node_now_ms()) == MP_ADDED)
                added = 1;
    LOG_DEBUG("gossip: %zu transactions received, added: %d", g->n, added);
    if (added) {
        node_mempool_changed(n);
        cons_activate(g->b->ce);
        drain(g->b);
        try_build(g->b);
    }
    gossip_in_free(g);
}

static void gossip_check(void *arg)
{
    gossip_in *g = arg;
    node *n = g->b->n;
    for (size_t i = 0; i < g->n; i++) {
        ledger_tx tx;
        ledger_err err;
        g->ok[i] = ledger_tx_admit(n->g, &tx, g->txs[i], g->lens[i], 0, &err) == 0 &&
                   ledger_get_tx(n->L, tx.id, NULL, NULL, NULL, NULL, &err) == 0;
        if (g->ok[i])
            g->kinds[i] = (int)tx.kind;
        ledger_tx_release(&tx);
    }
    node_post(n, gossip_added, g);
}

static void on_tx_gossip(bft *b, const Permit__TxGossip *tg)
{
    node *n = b->n;
    size_t k = tg->n_txs < GOSSIP_MAX ? tg->n_txs : GOSSIP_MAX;
    gossip_in *g = calloc(1, sizeof *g);
    if (g == NULL)
        return;
    g->b = b;
    g->txs = calloc(k ? k : 1, sizeof *g->txs);
    g->lens = calloc(k ? k : 1, sizeof *g->lens);
    g->ids = calloc(k ? k : 1, sizeof *g->ids);
    g->kinds = calloc(k ? k : 1, sizeof *g->kinds);
    g->ok = calloc(k ? k : 1, 1);
    if (!g->txs || !g->lens || !g->ids || !g->kinds || !g->ok)
        goto fail;
    for (size_t i = 0; i < k; i++) {
        if (tg->txs[i].len == 0 || tg->txs[i].len > LEDGER_MAX_ENVELOPE)
            continue;
        uint8_t *id = g->ids[g->n];
        ledger_sha256(tg->txs[i].data, tg->txs[i].len, id);
        if (node_mempool_contains(n->mp, id))
            continue; /* already here: verified once, not again */
        g->txs[g->n] = malloc(tg->txs[i].len);
        if (g->txs[g->n] == NULL)
            break;
        memcpy(g->txs[g->n], tg->txs[i].data, tg->txs[i].len);
        g->lens[g->n++] = tg->txs[i].len;
    }
    if (g->n > 0 && node_workers_submit(n->workers, gossip_check, g) == 0)
        return;
fail:
    gossip_in_free(g);
}

static void on_frame(void *ctx, unsigned peer, const Permit__Frame *f)
{
    bft *b = ctx;
    if (b->stopped)
        return;
    switch (f->msg_case) {
    case PERMIT__FRAME__MSG_CONSENSUS:
        on_consensus(b, peer, f->consensus);
        break;
    case PERMIT__FRAME__MSG_TXS:
        on_tx_gossip(b, f->txs);
        break;
    case PERMIT__FRAME__MSG_SYNC_REQUEST: {
        sync_work *w = calloc(1, sizeof *w);
        if (w == NULL)
            break;
        w->b = b;
        w->peer = peer;
        w->from = f->sync_request->from_height;
        w->max = f->sync_request->max_blocks < SYNC_MAX_BLOCKS ? f->sync_request->max_blocks
                                                                : SYNC_MAX_BLOCKS;
        if (w->from == 0 || w->max == 0 || node_workers_submit(b->n->workers, sync_read, w) != 0)
            free(w);
        break;
    }
    case PERMIT__FRAME__MSG_SYNC_RESPONSE:
        on_sync_response(b, peer, f->sync_response);
        break;
    default:
        break;
    }
}

static void on_link(void *ctx, unsigned peer, int up, uint64_t peer_height)
{
    bft *b = ctx;
    atomic_store(&b->n->peers, node_p2p_connected(b->p2p));
    if (!up || b->stopped)
        return;
    maybe_behind(b, peer, peer_height);
    /* a peer that (re)joins gets what we said at this height */
    if (b->resend_height == cons_height(b->ce)) {
        for (size_t i = 0; i < b->n_resend; i++)
            node_p2p_send_packed(b->p2p, peer, b->resend[i], b->resend_len[i]);
        for (size_t i = 0; i < b->n_relay; i++)
            node_p2p_send_packed(b->p2p, peer, b->relay[i], b->relay_len[i]);
    }
}

/* While a height does not advance, say our latest messages again: votes
 * lost to a peer's restart or a dropped link would otherwise leave rounds
 * without a quorum for good. */
static void on_resend(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bft *b = arg;
    if (b->stopped)
        return;
    sync_check_answer(b);
    if (b->syncing || b->resend_height != cons_height(b->ce))
        return;
    if (node_now_ms() - b->last_commit_ms < RESEND_MS)
        return;
    for (size_t i = 0; i < b->n_resend; i++)
        node_p2p_broadcast_packed(b->p2p, b->resend[i], b->resend_len[i]);
    for (size_t i = 0; i < b->n_relay; i++)
        node_p2p_broadcast_packed(b->p2p, b->relay[i], b->relay_len[i]);
}

/* ---- transactions admitted here go to the other validators ---- */

static void on_gossip_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bft *b = arg;
    if (b->n_gossip == 0)
        return;
    ProtobufCBinaryData *txs = calloc(b->n_gossip, sizeof *txs);
    if (txs) {
        for (size_t i = 0; i < b->n_gossip; i++) {
            txs[i].data = b->gossip[i];
            txs[i].len = b->gossip_len[i];
        }
        Permit__TxGossip tg = PERMIT__TX_GOSSIP__INIT;
        tg.n_txs = b->n_gossip;
        tg.txs = txs;
        Permit__Frame f = PERMIT__FRAME__INIT;
        f.msg_case = PERMIT__FRAME__MSG_TXS;
        f.txs = &tg;
        node_p2p_broadcast(b->p2p, &f);
        free(txs);
    }
    for (size_t i = 0; i < b->n_gossip; i++)
        free(b->gossip[i]);
    b->n_gossip = 0;
}

static void bft_admitted(node_engine *base, const uint8_t *env, size_t len)
{
    bft *b = (bft *)base;
    if (b->n_gossip == GOSSIP_MAX)
        on_gossip_timer(-1, 0, b);
    uint8_t *c = malloc(len);
    if (c == NULL)
        return;
    memcpy(c, env, len);
    b->gossip[b->n_gossip] = c;
    b->gossip_len[b->n_gossip++] = len;
    if (!evtimer_pending(b->gossip_ev, NULL)) {
        struct timeval tv = {0, GOSSIP_MS * 1000};
        evtimer_add(b->gossip_ev, &tv);
    }
}

/* ---- the engine interface ---- */

static void bft_kick(node_engine *base)
{
    bft *b = (bft *)base;
    if (b->stopped)
        return;
    cons_activate(b->ce);
    drain(b);
    try_build(b);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bft *b = arg;
    if (b->stopped)
        return;
    if (heartbeat_due(b)) {
        cons_activate(b->ce);
        drain(b);
        try_build(b);
    }
}

static void bft_status(node_engine *base, unsigned *peers, int *syncing)
{
    bft *b = (bft *)base;
    *peers = node_p2p_connected(b->p2p);
    *syncing = b->syncing;
}

static void bft_stop(node_engine *base)
{
    bft *b = (bft *)base;
    if (b->stopped)
        return;
    b->stopped = 1;
    if (b->heartbeat_ev)
        event_del(b->heartbeat_ev);
    if (b->build_ev)
        evtimer_del(b->build_ev);
    if (b->gossip_ev)
        evtimer_del(b->gossip_ev);
    if (b->resend_ev)
        event_del(b->resend_ev);
    pthread_mutex_lock(&b->mu);
    while (b->jq_head || b->running)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

static void bft_free(node_engine *base)
{
    bft *b = (bft *)base;
    if (b->thread_started) {
        pthread_mutex_lock(&b->mu);
        b->stop = 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->thread, NULL);
    }
    for (job *j = b->jq_head, *next; j; j = next) {
        next = j->next;
        job_free(j);
    }
    node_p2p_free(b->p2p);
    store_clear(b);
    ahead_clear(b);
    for (size_t i = 0; i < b->n_gossip; i++)
        free(b->gossip[i]);
    free(b->gossip);
    free(b->gossip_len);
    if (b->heartbeat_ev)
        event_free(b->heartbeat_ev);
    if (b->build_ev)
        event_free(b->build_ev);
    if (b->gossip_ev)
        event_free(b->gossip_ev);
    if (b->resend_ev)
        event_free(b->resend_ev);
    while (b->timers)
        timer_unlink(b, b->timers);
    resend_clear(b);
    cons_free(b->ce);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static const node_engine_ops bft_ops = {
    .kick = bft_kick,
    .stop = bft_stop,
    .free = bft_free,
    .status = bft_status,
    .admitted = bft_admitted,
};

node_engine *node_bft_new(node *n, ledger_err *err)
{
    if (n->validator < 0)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "config/node.key is not the node key of a validator of this chain "
                           "(read-only observers are not supported yet)"),
               NULL;
    bft *b = calloc(1, sizeof *b);
    if (b == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory"), NULL;
    b->base.ops = &bft_ops;
    b->n = n;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    snprintf(b->sign_path, sizeof b->sign_path, "%s/data/sign_state", n->cfg.home);
    if (node_sign_state_load(b->sign_path, &b->sign, err) != 0) {
        bft_free(&b->base);
        return NULL;
    }
    cons_config cc = {.n = (unsigned)n->g->n_validators, .self = n->validator,
                      .propose_ms = n->cfg.timeout_propose_ms,
                      .propose_delta_ms = n->cfg.timeout_delta_ms,
                      .prevote_ms = n->cfg.timeout_vote_ms,
                      .prevote_delta_ms = n->cfg.timeout_delta_ms,
                      .precommit_ms = n->cfg.timeout_vote_ms,
                      .precommit_delta_ms = n->cfg.timeout_delta_ms,
                      .wait_for_value = 1,
                      .own_propose_extra_ms = n->g->params.block_interval_ms};
    b->ce = cons_new(&cc);
    b->gossip = calloc(GOSSIP_MAX, sizeof *b->gossip);
    b->gossip_len = calloc(GOSSIP_MAX, sizeof *b->gossip_len);
    b->heartbeat_ev = event_new(n->base, -1, EV_PERSIST, on_heartbeat, b);
    b->build_ev = evtimer_new(n->base, on_build_timer, b);
    b->resend_ev = event_new(n->base, -1, EV_PERSIST, on_resend, b);
    b->gossip_ev = evtimer_new(n->base, on_gossip_timer, b);
    uint64_t hb = n->g->params.heartbeat_ms / 4;
    if (hb < 100)
        hb = 100;
    struct timeval tv = {(time_t)(hb / 1000), (suseconds_t)(hb % 1000) * 1000};
    struct timeval rtv = {RESEND_MS / 1000, (RESEND_MS % 1000) * 1000};
    if (!b->ce || !b->gossip || !b->gossip_len || !b->heartbeat_ev || !b->build_ev ||
        !b->gossip_ev || !b->resend_ev || event_add(b->heartbeat_ev, &tv) != 0 ||
        event_add(b->resend_ev, &rtv) != 0 ||
        pthread_create(&b->thread, NULL, executor, b) != 0) {
        bft_free(&b->base);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "cannot start consensus"), NULL;
    }
    b->thread_started = 1;
    b->p2p = node_p2p_start(n, on_frame, on_link, b, err);
    if (b->p2p == NULL) {
        bft_free(&b->base);
        return NULL;
    }
    b->last_commit_ms = node_now_ms();
    uint64_t h = ledger_height(n->L) + 1;
    /* After a restart in the middle of a height, holding the lock it had:
     * when the last thing signed was a vote, go on in its round and say that
     * vote again (it may have been lost with the crash, and the others may
     * need it for a quorum of the round); after a proposal, whose block is
     * gone, in the round after.  The sign state keeps the node from signing
     * anything that conflicts either way. */
    int resume = b->sign.present && b->sign.height == h;
    int revote = resume && b->sign.step != SIGN_STEP_PROPOSAL;
    uint32_t round = !resume ? 0 : revote ? b->sign.round : b->sign.round + 1;
    LOG_INFO("engine: BFT, validator %d of %zu (%s), starting at height %llu round %u", n->validator,
             n->g->n_validators, n->g->departments[n->dept].id, (unsigned long long)h, round);
    cons_start(b->ce, h, round);
    if (resume && b->sign.lock_round >= 0) {
        cons_hash lock;
        memcpy(lock.b, b->sign.lock_hash, 32);
        cons_restore_lock(b->ce, b->sign.lock_round, &lock);
    }
    if (revote) {
        LOG_INFO("engine: resuming height %llu in round %u, saying its %s again",
                 (unsigned long long)h, round,
                 b->sign.step == SIGN_STEP_PREVOTE ? "prevote" : "precommit");
        cons_msg v;
        memset(&v, 0, sizeof v);
        v.type = b->sign.step == SIGN_STEP_PREVOTE ? CONS_PREVOTE : CONS_PRECOMMIT;
        v.height = h;
        v.round = b->sign.round;
        v.pol_round = CONS_NIL_ROUND;
        v.validator = (uint32_t)n->validator;
        memcpy(v.value.b, b->sign.hash, 32);
        sign_and_send(b, &v, NULL); /* the same vote: the sign state allows it */
    }
    drain(b);
    return &b->base;
}
