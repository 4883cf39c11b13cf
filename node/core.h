/* node/core.h: the node core: every decision a validator makes around its
 * consensus engine, with no sockets, threads, timers or disks (DESIGN §3,
 * "node glue").  permitd (node/bft.c) and the simulator (tests/sim) run this
 * same code; they only carry out its actions.
 *
 * The core owns the engine (consensus/engine.h) and decides:
 *  - what to do with a frame from a peer: consensus messages (verified,
 *    bounded, kept for the current and the next height), proposed blocks
 *    (bounded, keyed by height, round and proposer, inside the engine's
 *    window), transactions gossiped or announced, block-sync requests and
 *    answers;
 *  - when and what to sign (the sign state refuses what could fork the
 *    chain: node/signstate.h), and what to send to whom: its own messages,
 *    the votes of others it relays, help for a peer left in an earlier round;
 *  - when to make a block and from which transactions, when a block is
 *    valid enough to execute (clock, proposer), and what to commit;
 *  - when it is behind and whom to ask for blocks, and when to give up;
 *  - which transactions each peer still needs.
 *
 * The host feeds it events (frames, links, executor results, admitted
 * transactions, the passing of time) and carries out its actions (send a
 * frame, build / validate / commit / apply blocks on its executor, answer a
 * sync request, admit gossiped transactions).  Everything is on one thread
 * (permitd's event loop); the hooks are called synchronously.
 *
 * Time: the core reads two clocks through its hooks: monotonic milliseconds
 * for its timers, wall-clock milliseconds for block times.  It never sleeps:
 * core_next_deadline says when core_on_tick is due. */
#ifndef PERMIT_NODE_CORE_H
#define PERMIT_NODE_CORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/engine.h"
#include "ledger/block.h"
#include "ledger/err.h"
#include "ledger/genesis.h"
#include "ledger/ledger.h"
#include "mempool.h"
#include "signstate.h"

struct Permit__Frame;
struct Permit__Block;

/* ---- blocks ---- */

/* A block as made or received: header bytes (hashed as they are), the
 * envelopes and their ids, and the previous block's certificate its header
 * names.  Immutable once made; reference counted (atomically: permitd's
 * executor thread holds references too). */
typedef struct core_block {
    _Atomic unsigned refs;
    cons_hash hash;
    ledger_header hdr;
    uint8_t *hdr_bytes;
    size_t hdr_len;
    size_t n;
    uint8_t **txs;
    size_t *lens;
    uint8_t (*ids)[32];          /* SHA-256 of each envelope */
    size_t bytes;                /* envelopes and header */
    int has_last_commit;
    ledger_commit last_commit;
} core_block;

/* From its protobuf form: at most max_txs envelopes of max_bytes in all,
 * each 1..LEDGER_MAX_ENVELOPE bytes, a header that decodes.  NULL with err
 * when malformed or out of memory. */
core_block *core_block_from_pb(const struct Permit__Block *pb, size_t max_txs, size_t max_bytes,
                               ledger_err *err);
/* A block made here: takes ownership of hdr_bytes, txs (each envelope and
 * the array) and lens; computes ids and hash.  NULL on allocation failure
 * (what was handed over is freed). */
core_block *core_block_new(const ledger_header *hdr, uint8_t *hdr_bytes, size_t hdr_len,
                           uint8_t **txs, size_t *lens, size_t n, const ledger_commit *last_commit);
core_block *core_block_ref(core_block *b);
void core_block_unref(core_block *b); /* NULL-safe */

/* The protobuf form, pointing into b (b must outlive it).  `txs` must hold
 * b->n entries; lc is scratch for the last commit. */
void core_block_to_pb(const core_block *b, struct Permit__Block *pb, ProtobufCBinaryData *txs,
                      ledger_commit_pb *lc);

/* ---- consensus messages on the wire ---- */

struct Permit__ConsensusMsg;

/* A consensus message from its protobuf form, for a set of at most n
 * validators: 0, or -1 when malformed (validator out of range, a signature that is not
 * 64 bytes, an unknown type, a block hash neither empty (nil) nor 32 bytes,
 * a pol_round below -1).  The signature is not checked here. */
int core_msg_from_pb(const struct Permit__ConsensusMsg *cm, unsigned n, cons_msg *m);

/* The packed Frame of m, with b's block for a proposal (b may be NULL):
 * *frame malloc'd.  0, or -1 when memory ran out. */
int core_msg_pack(const cons_msg *m, const core_block *b, uint8_t **frame, size_t *len);

/* ---- configuration and hooks ---- */

#define CORE_ALL_PEERS UINT32_MAX

typedef struct {
    const ledger_genesis *g;     /* the chain (id, parameters); the validators of every
                                    height when the hooks have no vset */
    int self;                    /* without a vset hook: validator index in g; -1: a node
                                    that only follows */
    const uint8_t *node_key;     /* with a vset hook: our node key (32 bytes, kept by the
                                    caller), found in each height's set: a validator
                                    votes at the heights whose set holds it and follows
                                    at the others; NULL: never votes */
    int observer;                /* an observer (DESIGN §6): never votes; its peers are the
                                    validators; it takes no consensus message, follows by
                                    certified blocks (asked for, or pushed to it) and hands
                                    the transactions submitted to it to the validators */
    uint64_t propose_ms, vote_ms, delta_ms; /* consensus timeouts */
    uint64_t max_clock_drift_ms; /* a block further ahead of our wall clock gets no vote */
} core_config;

struct ledger_gov;

typedef struct {
    void *ctx;
    uint64_t (*mono_ms)(void *ctx);
    uint64_t (*wall_ms)(void *ctx);
    /* Record `next` durably before anything it covers leaves; 0, or -1
     * with err (nothing is signed then). */
    int (*persist)(void *ctx, const node_sign_state *next, ledger_err *err);
    /* Record the lock (the consensus WAL: core_lock_encode bytes) durably
     * before the precommit that takes it leaves; 0, or -1 with err (nothing
     * is signed then).  Handed back to core_new after a restart. */
    int (*persist_lock)(void *ctx, const uint8_t *bytes, size_t len, ledger_err *err);
    /* Sign a 32-byte message of `height` with our node key (the core asks
     * only at heights whose set holds it: cfg.node_key); 0 or -1. */
    int (*sign)(void *ctx, uint64_t height, const uint8_t msg[32], uint8_t sig[64]);
    /* Verify a signature by `key` over a 32-byte message; 1 when valid.
     * NULL: ledger_verify. */
    int (*verify)(void *ctx, const ledger_pubkey *key, const uint8_t msg[32],
                  const uint8_t sig[64]);
    /* The membership whose validators certify block `height` (DESIGN §5;
     * ledger_vset_acquire): a reference the core releases, or NULL when
     * the host cannot name it yet.  NULL: genesis' validators throughout. */
    struct ledger_gov *(*vset)(void *ctx, uint64_t height);
    /* The node key of linked peer p (32 bytes), asked when its link comes
     * up; NULL when unknown.  NULL hook: genesis validator p's. */
    const uint8_t *(*peer_key)(void *ctx, uint32_t peer);
    /* Log a line (level: NODE_LOG_* of node/log.h); may be NULL. */
    void (*log)(void *ctx, int level, const char *msg);
} core_hooks;

/* ---- actions ---- */

typedef enum {
    CORE_ACT_SEND = 1, /* frame (packed, without length prefix) to peer, or CORE_ALL_PEERS */
    CORE_ACT_BUILD,    /* make block `height` at wall time `time` from txs; answer core_on_built */
    CORE_ACT_VALIDATE, /* execute block (trusted: signatures verified at admission);
                          answer core_on_validated */
    CORE_ACT_COMMIT,   /* commit block with cert; answer core_on_committed */
    CORE_ACT_APPLY,    /* sync: apply blocks[] with certs[] in order while they follow the
                          ledger and each certificate verifies; answer core_on_applied */
    CORE_ACT_SERVE,    /* answer peer's sync request: core_sync_answer(from, max), send it;
                          then core_on_served (one per peer is under way at a time) */
    CORE_ACT_ADMIT,    /* check envelopes gossiped by peer (form, signature, time window,
                          state, not committed), add the good ones to the mempool and call
                          core_on_tx for each; then core_on_admitted */
    CORE_ACT_FAIL,     /* the core cannot go on (reason in `why`): stop the node */
} core_act_kind;

typedef struct {
    core_act_kind kind;
    uint32_t peer;               /* SEND, SERVE, ADMIT, APPLY (the peer that answered) */
    uint8_t *frame;              /* SEND: owned by the action */
    size_t len;
    uint64_t height;             /* BUILD, VALIDATE, COMMIT */
    uint32_t round;              /* BUILD */
    uint64_t time;               /* BUILD: wall time for the block (at least tip time + 1) */
    core_block *block;           /* VALIDATE, COMMIT: a reference owned by the action */
    uint8_t *trusted;            /* VALIDATE: per envelope; owned */
    ledger_commit *cert;         /* COMMIT: owned */
    uint8_t **txs;               /* BUILD, ADMIT: owned envelopes */
    size_t *lens;
    size_t n;
    core_block **blocks;         /* APPLY: owned references */
    ledger_commit *certs;        /* APPLY: owned, one per block */
    size_t n_blocks;
    uint64_t from;               /* SERVE */
    uint32_t max;                /* SERVE */
    const char *why;             /* FAIL */
} core_action;

/* Free what an action owns; NULL-safe; the action is zeroed. */
void core_action_release(core_action *a);

/* ---- life ---- */

typedef struct core core;

/* A core for a node whose ledger is at `ledger_height`, whose sign state
 * (loaded from disk) is *ss, sharing the host's mempool (transactions
 * admitted by RPC and by gossip).  lock/lock_len: what persist_lock last
 * recorded (NULL: nothing).  NULL on allocation failure or a bad config. */
core *core_new(const core_config *cfg, const core_hooks *hooks, node_mempool *mp,
               const node_sign_state *ss, const uint8_t *lock, size_t lock_len,
               uint64_t ledger_height);

/* ---- the lock record (the consensus WAL) ----
 *
 * A validator that precommits a block is locked on it: it may vote for no
 * other block at that height without a newer proof of lock (node/signstate.h).
 * To stay live it must be able to propose that block again, with the
 * prevotes that justified it, even after a crash: the proposer may be
 * Byzantine and never hand the block out again, and every correct validator
 * that holds it may restart.  So before the precommit leaves, the node
 * records the block and its proof of lock: "PLK1" || u64 height || u32 round
 * || u32 n || n x (u32 validator || 64-byte prevote signature) || u32 len ||
 * the block (protobuf Block, with its last_commit) || SHA-256 of all before.
 * The sign state stays the authority on what was signed; the record only
 * brings back the block and the prevotes of the lock it names. */
#define CORE_LOCK_MAGIC "PLK1"
void core_free(core *c);

/* Start consensus at the height after the ledger's.  After a restart in the
 * middle of a height it resumes in the round of its last signed vote, with
 * its lock, and says that vote again. */
void core_start(core *c);

/* Take the next action; 0 when there is none.  Release it after use. */
int core_next_action(core *c, core_action *out);

/* Monotonic time at which core_on_tick is due (UINT64_MAX: none). */
uint64_t core_next_deadline(const core *c);

/* ---- events ---- */

/* A frame from authenticated peer `peer`; nothing of f is kept.  Peers are
 * numbered by the host, and keep their number while linked: department
 * nodes (whose keys the sets of the heights make validators or not) in
 * 0..LEDGER_MAX_DEPARTMENTS-1, observers after them.  A validator's core
 * takes from an observer only what an observer may say (sync requests and
 * transactions) and counts it in no quorum; it pushes every block it
 * commits to the observers linked to it. */
void core_on_frame(core *c, uint32_t peer, const struct Permit__Frame *f);
/* The link to `peer` came up (hello_height: the height its handshake
 * claimed, a hint only) or went down. */
void core_on_link(core *c, uint32_t peer, int up, uint64_t hello_height);
void core_on_tick(core *c);

/* A transaction entered the mempool (from_peer: the peer that gossiped it,
 * or -1 for one submitted here). */
void core_on_tx(core *c, const uint8_t id[32], int from_peer);
/* Transactions wait or a heartbeat may be due: consider proposing. */
void core_kick(core *c);

/* Executor results.  built: the block (reference handed over) or NULL;
 * refused: envelopes the block left out for good (they leave the mempool). */
void core_on_built(core *c, uint64_t height, uint32_t round, core_block *built,
                   const uint8_t (*refused)[32], size_t n_refused);
void core_on_validated(core *c, uint64_t height, const cons_hash *hash, int ok);
/* The decided block of `height` is durable (ok) or could not be committed. */
void core_on_committed(core *c, uint64_t height, int ok);
/* Sync: the ledger is at ledger_height after applying `applied` blocks of
 * the answer of `peer`; bad: a block or certificate was refused. */
void core_on_applied(core *c, uint32_t peer, uint64_t ledger_height, size_t applied, int bad);
/* An ADMIT action is done (its envelopes were admitted or refused). */
void core_on_admitted(core *c, uint32_t peer);
/* A SERVE action is done (answered, or given up): that peer may ask again. */
void core_on_served(core *c, uint32_t peer);

/* ---- answering sync requests (any thread: reads only) ---- */

#define CORE_SYNC_MAX_BLOCKS 64
/* a long sync logs its progress this often */
#define CORE_SYNC_PROGRESS_MS 5000
#define CORE_SYNC_MAX_BYTES (48u << 20) /* beyond one block; a frame holds 64 MiB */

/* The SyncResponse frame for blocks from..from+max-1 of L (packed, malloc'd):
 * at least the first block when L has it, then more while the answer stays
 * under CORE_SYNC_MAX_BYTES, each with its certificate and the previous
 * block's.  0, or -1 with err. */
int core_sync_answer(ledger *L, uint64_t from, uint32_t max, uint8_t **frame, size_t *len,
                     ledger_err *err);

/* ---- introspection ---- */

typedef struct {
    uint64_t height;             /* the engine's */
    uint32_t round;
    uint64_t ledger_height;
    int syncing;                 /* a sync request or answer is under way */
    uint64_t sync_target;
    unsigned peers;
    uint64_t sign_refused, bad_sigs, bad_blocks, blocks_dropped, msgs_dropped;
    uint64_t synced_blocks, sync_refused;
    uint64_t equivocations;
    uint64_t gossip_dup;         /* envelopes not checked: a copy was being admitted */
} core_stats;

void core_get_stats(const core *c, core_stats *out);
const cons_engine *core_engine(const core *c);
const node_sign_state *core_sign_state(const core *c);

#endif
