/* node/core_int.h: the node core's private state, shared by its files
 * (core.c: life, the engine's actions, signing; core_vset.c: the validators
 * of each height; core_store.c: blocks and
 * messages of the current and next height; core_relay.c: what is said again
 * and relayed; core_sync.c: block sync; core_gossip.c: transactions between
 * peers).  Nothing outside node/core*.c includes it. */
#ifndef PERMIT_NODE_CORE_INT_H
#define PERMIT_NODE_CORE_INT_H

#include "core.h"
#include "permit.pb-c.h"

#define CORE_STORE_MAX 32             /* proposed blocks kept, this height and the next */
#define CORE_STORE_BYTES (512u << 20) /* ... and their bytes */
#define CORE_AHEAD_MAX 256            /* messages of the next height kept */
#define CORE_AWAIT_MAX 16             /* blocks the engine asked about that are not here yet */
#define CORE_OWN_MAX 8                /* our own messages of this height, said again */
#define CORE_RELAY_MAX (8 * LEDGER_MAX_DEPARTMENTS) /* others' votes of this height, relayed */
#define CORE_RESEND_MS 1000           /* say votes again this often while a height stalls */
#define CORE_RESEND_BLOCK_MS 10000    /* ... and our proposals (whole blocks) this often */
#define CORE_HELP_MS 1000             /* a peer left in an earlier round is helped this often */
#define CORE_GOSSIP_MS 20             /* transactions go out in batches this often */
#define CORE_GOSSIP_TXS 2000          /* envelopes per TxGossip frame */
#define CORE_GOSSIP_BYTES (4u << 20)  /* ... and bytes */
#define CORE_IDS_MAX 4096             /* ids per TxIds frame (announce, request) */
#define CORE_PEER_QUEUE 8192          /* ids waiting to go to one peer */
#define CORE_REQUESTED 8192           /* ids asked for lately, not asked again soon */
#define CORE_REQUEST_MS 5000         /* ... of the same peer */
#define CORE_REREQUEST_MS 500         /* ... of another peer that announces it */
/* requested_of of an id whose envelope arrived and is being admitted: asked
 * of no one for CORE_REQUEST_MS (its checks may queue behind others) */
#define CORE_ARRIVED UINT32_MAX
#define CORE_ALT_MAX 4096             /* other announcers of ids asked, remembered */
#define CORE_ADMIT_INFLIGHT 8         /* ADMIT actions under way per peer */
#define CORE_TX_SERVE_BYTES (16u << 20) /* envelopes sent on request, per peer per second */
#define CORE_DEFER_MS 100             /* ... what is beyond goes as the budget refills */
#define CORE_SYNC_ANSWER_MS 5000      /* a sync request unanswered this long is given up */
#define CORE_SYNC_SHUN_MS 10000       /* ... and that peer not asked again for this long */
#define CORE_SYNC_BRIEF_MS 1000       /* a peer with nothing new, behind too: this long */
#define CORE_SYNC_RETRY_MS 1000       /* behind, no request out: ask again this often */
#define CORE_AHEAD_SYNC_MS 3000       /* still a height behind after this long: sync */
#define CORE_MAX_QUEUE 65536          /* actions waiting; sends beyond it are dropped */
/* Peer indexes: department nodes (validators, whatever the height) in
 * 0..CORE_NODE_SLOTS-1, observers after them; a peer keeps its index while
 * linked, whichever validator index the sets of the heights give its key */
#define CORE_NODE_SLOTS LEDGER_MAX_DEPARTMENTS
#define CORE_MAX_PEERS (CORE_NODE_SLOTS + LEDGER_MAX_OBSERVERS)
#define CORE_VSETS 4                  /* validator sets kept, by height */
#define CORE_CLAIMS LEDGER_MAX_DEPARTMENTS /* signers whose far heights are remembered */
#define CORE_PRUNE_MS 1000            /* an observer drops what can no longer commit this often */
#define CORE_PRUNE_SLACK_MS 10000     /* ... beyond twice the time window (clocks differ) */
#define CORE_PROBE_MS 5000            /* an observer with no block for this long asks for one */

typedef struct {
    unsigned refs;
    size_t len;
    uint8_t data[];
} core_buf;

typedef struct {
    core_block *b;
    uint64_t height;
    uint32_t round;
    uint32_t proposer;
} store_entry;

typedef struct {
    cons_msg m;
    core_block *b;               /* proposals */
    uint32_t peer;               /* who sent it */
    int unchecked;               /* its height's validators were not known yet: its
                                    signature (and proposer) are checked at replay */
} ahead_entry;

/* A packed consensus frame, kept to be said again. */
typedef struct {
    core_buf *buf;
    uint32_t validator, type, round;
    uint32_t peer;               /* its signer's peer index, or UINT32_MAX */
} kept_msg;

/* The validators of a height (ledger_vset_acquire), kept while near. */
typedef struct {
    uint64_t height;             /* 0: empty */
    struct ledger_gov *gv;
} vset_entry;

/* The height a signer's message showed decided (block sync's evidence). */
typedef struct {
    uint8_t key[32];
    uint64_t height;             /* 0: empty */
} claim_entry;

typedef struct {
    uint8_t id[32];
    uint32_t peer;               /* UINT32_MAX: free */
    uint64_t due;
} alt_entry;

typedef struct {
    int up;
    int has_key;
    uint8_t key[32];             /* its node key, while up */
    uint64_t hello_height;
    uint8_t (*queue)[32];        /* ids to announce or send, a ring */
    size_t qhead, qlen;
    uint8_t *qfull;              /* per queued id: send the envelope (1) or announce it (0) */
    int announce_all;            /* the queue overflowed: announce the whole mempool */
    uint8_t (*deferred)[32];     /* ids it asked for beyond its budget, a ring */
    size_t dhead, dlen;
    uint64_t help_next;
    unsigned admitting;
    unsigned serving;            /* SERVE actions under way for it (at most one) */
    size_t alts;                 /* entries of core.alt naming it */
    uint64_t tx_budget;          /* bytes of envelopes it may still ask for ... */
    uint64_t tx_budget_at;       /* ... as of this time (refilled at CORE_TX_SERVE_BYTES/s) */
    uint64_t shun_until;         /* sync: not asked again before */
    uint64_t behind_next;        /* sent it blocks it lacked; not again before */
    uint64_t unasked_next;       /* took blocks it sent unasked; not again before */
} peer_state;

struct core {
    core_config cfg;
    core_hooks h;
    const ledger_genesis *g;
    unsigned n_peers;            /* peer indexes: department nodes, then (on a validator)
                                  * the LEDGER_MAX_OBSERVERS observer slots */
    int voter;                   /* may ever vote: not an observer, has a node key */
    vset_entry vs[CORE_VSETS];   /* the validators of heights near ours */
    uint64_t sign_height;        /* the height whose message the sign state checks */
    uint64_t vset_missing;       /* a height whose validators the host could not name */
    cons_engine *e;
    node_mempool *mp;
    node_sign_state ss;
    uint64_t ledger_height;

    core_action *q;              /* actions, a ring that grows to CORE_MAX_QUEUE */
    size_t qhead, qlen, qcap;
    int failed;

    /* timers, monotonic ms (0: unset) */
    struct {
        uint64_t at, height;
        uint32_t round;
    } eto[3];                    /* the engine's, one per step: only the latest matters */
    uint64_t build_at, resend_at, resend_blocks_at, gossip_at, heartbeat_at;
    uint64_t prune_at;           /* observer: the next look for transactions past their window */
    uint64_t probe_at;           /* observer: the next question for blocks when none came */
    int probing;                 /* ... being asked now */
    int probe_inflight;          /* the request out is such a question (not syncing) */

    /* blocks and messages (core_store.c) */
    store_entry store[CORE_STORE_MAX];
    size_t n_store, store_bytes;
    ahead_entry ahead[CORE_AHEAD_MAX];
    size_t n_ahead;
    uint64_t ahead_since;
    cons_hash await[CORE_AWAIT_MAX];
    size_t n_await;

    /* making and committing blocks */
    int want_value;
    uint64_t want_h;
    uint32_t want_r;
    int building;
    int committing;
    uint64_t committing_h;
    core_block *committing_block; /* its transactions leave the mempool once durable */
    uint64_t last_commit_mono;

    /* said again and relayed (core_relay.c), for msgs_height */
    uint64_t msgs_height;
    kept_msg own[CORE_OWN_MAX];
    size_t n_own;
    kept_msg relay[CORE_RELAY_MAX];
    size_t n_relay;
    uint64_t last_progress_mono; /* the height last advanced */

    /* block sync (core_sync.c) */
    int sync_inflight;           /* a request is out */
    int applying;                /* an answer is being applied */
    int applying_asked;          /* ... one we asked for (not a block pushed to an observer) */
    core_block **applying_blocks; /* ... these (references) */
    size_t n_applying;
    uint32_t sync_peer;
    uint64_t sync_asked_at;
    uint64_t sync_retry_at;      /* behind with no request out: ask again then */
    /* progress lines of a long sync: the next one is due at progress_at
     * (monotonic ms); progress_from/_height/_t are where this sync started
     * and where the last line left it */
    uint64_t progress_at, progress_from, progress_height, progress_t;
    uint64_t sync_target;        /* highest height known decided (vouched_height) */
    uint32_t target_peer;
    claim_entry claims[CORE_CLAIMS]; /* per signer: the height its signed messages
                                        show decided */

    /* transactions between peers (core_gossip.c) */
    peer_state peers[CORE_MAX_PEERS];
    uint64_t hint_height;        /* observer: the highest height a validator said it holds */
    uint32_t hint_peer;          /* ... and which (unsigned: a reason to ask, nothing more) */
    uint8_t (*requested)[32];
    uint64_t *requested_at;
    uint32_t *requested_of;      /* the peer asked */
    alt_entry *alt;              /* another peer that has an id asked of someone */
    size_t *alt_free, n_alt_free; /* the free entries of alt */

    core_stats st;
    char why[256];
    int quarantine;              /* no sign state at start on a ledger with blocks: */
    uint64_t quarantine_height;  /* ... sign nothing until past this height */
    uint64_t own_seen_height;    /* ... and past the highest height seen with our vote */
    uint8_t *lock_rec;           /* the lock record handed to core_new, until core_start */
    size_t lock_rec_len;
    uint8_t *lock_last;          /* the lock record on disk that the sign state agrees with */
    size_t lock_last_len;
    uint8_t *lock_pending;       /* written, the sign state not yet persisted */
    size_t lock_pending_len;
};

/* core.c */
uint64_t core_mono(core *c);
uint64_t core_wall(core *c);
void core_logf(core *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
core_action *core_push(core *c, core_act_kind kind);
void core_send_buf(core *c, uint32_t peer, core_buf *buf); /* takes a reference */
void core_send_frame(core *c, uint32_t peer, const Permit__Frame *f);
void core_drain(core *c);
void core_fail(core *c, const char *why);
/* The validators of `height` (genesis without a vset hook), or NULL when the
 * host cannot name them (yet).  The pointer holds until the next lookup of
 * another height (a small cache): never keep two at once. */
const ledger_genesis *core_vset(core *c, uint64_t height);
/* Validator v's signature over msg at `height`, against the set of that
 * height; 0 for an unknown height or v out of range. */
int core_verify(core *c, uint64_t height, uint32_t v, const uint8_t msg[32],
                const uint8_t sig[64]);
/* The parameters in force at `height` (governance's set_param: block
 * interval, heartbeat, block bounds), genesis' when unknown. */
const ledger_params *core_params(core *c, uint64_t height);
/* Our validator index at `height` (-1: not a validator there). */
int core_self_at(core *c, uint64_t height);
/* The node key of validator v at `height`, or NULL. */
const uint8_t *core_val_key(core *c, uint64_t height, uint32_t v);
/* The peer index linked with validator v of `height`, or UINT32_MAX. */
uint32_t core_val_peer(core *c, uint64_t height, uint32_t v);
/* Whether peer p (linked) is validator v of `height`. */
int core_peer_is_val(core *c, uint32_t p, uint64_t height, uint32_t v);
/* The proposer of (height, round) in that height's set (UINT32_MAX: unknown). */
uint32_t core_proposer(core *c, uint64_t height, uint32_t round);
void core_height_advanced(core *c);
void core_try_build(core *c);

core_buf *core_buf_pack(const Permit__Frame *f);
core_buf *core_buf_ref(core_buf *b);
void core_buf_unref(core_buf *b);

void core_mempool_drop_block(core *c, const core_block *b);

/* core_vset.c */
int core_engine_validators(void *ctx, uint64_t height, unsigned *n, int *self);
void core_vsets_free(core *c);

/* core_lock.c */
int core_lock_record(core *c, const cons_msg *m, const node_sign_evidence *ev);
void core_lock_settle(core *c, int taken);
void core_lock_restore(core *c);

/* core_store.c */
core_block *core_store_find(core *c, const cons_hash *h);
int core_store_add(core *c, core_block *b, uint64_t height, uint32_t round, uint32_t proposer);
void core_store_drop_below(core *c, uint64_t height);
void core_ahead_add(core *c, const cons_msg *m, core_block *b, uint32_t peer, int unchecked);
void core_ahead_replay(core *c);
void core_saw_own(core *c, const cons_msg *m, const uint8_t *msg);
void core_ahead_clear(core *c);
void core_await_add(core *c, const cons_hash *h);
void core_validate(core *c, core_block *b);
void core_on_consensus(core *c, uint32_t peer, const Permit__ConsensusMsg *cm);
void core_store_free(core *c);

/* core_relay.c */
void core_relay_reset(core *c, uint64_t height);
void core_keep_own(core *c, const cons_msg *m, core_buf *buf);
void core_keep_relay(core *c, const cons_msg *m);
void core_relay_pol(core *c, uint32_t peer, uint64_t height, int32_t round,
                    const cons_hash *value, size_t n, const uint32_t *validators,
                    const uint8_t (*sigs)[64]);
void core_say_again(core *c, uint32_t peer, int proposals);
void core_help_peer(core *c, uint32_t peer, uint32_t their_round);
void core_relay_tick(core *c, uint64_t now);
void core_relay_free(core *c);
core_buf *core_pack_msg(const cons_msg *m, const core_block *b);

/* core_sync.c: evidence that the ledger is behind */
enum {
    CORE_HINT = 0,   /* a peer's unsigned word (its handshake): ask it, nothing more */
    CORE_SIGNED = 1, /* validator `who` signed a message of a later height */
    CORE_KNOWN = 2,  /* this node knows it (its engine decided a block it lacks) */
};
/* peer: whom to ask first (CORE_ALL_PEERS: anyone); signer: with
 * CORE_SIGNED, the node key that signed for a later height. */
void core_behind(core *c, uint32_t peer, const uint8_t *signer, uint64_t height, int evidence);
void core_sync_tick(core *c, uint64_t now);
void core_on_sync_request(core *c, uint32_t peer, const Permit__SyncRequest *r);
void core_on_sync_response(core *c, uint32_t peer, const Permit__SyncResponse *r);
void core_help_behind(core *c, uint32_t peer, uint64_t height);
void core_push_observers(core *c, uint64_t height);
void core_observer_probe(core *c, uint64_t now);
void core_observer_prune(core *c, uint64_t now);
uint64_t core_sync_deadline(const core *c);

/* core_gossip.c */
int core_gossip_init(core *c);
void core_gossip_free(core *c);
void core_gossip_link(core *c, uint32_t peer, int up);
void core_gossip_queue(core *c, const uint8_t id[32], int from_peer);
void core_gossip_tick(core *c, uint64_t now);
void core_on_tx_gossip(core *c, uint32_t peer, const Permit__TxGossip *g);
void core_on_tx_announce(core *c, uint32_t peer, const Permit__TxIds *ids);
void core_on_tx_request(core *c, uint32_t peer, const Permit__TxIds *ids);

#endif
