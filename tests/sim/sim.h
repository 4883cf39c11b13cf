/* tests/sim/sim.h: the deterministic consensus simulator (README.md).
 *
 * One process runs seed after seed.  A seed is one world: n validators, each
 * a real consensus engine (consensus/engine.h) with a real ledger in its own
 * RocksDB, a sign state and a mempool, joined by a simulated network that
 * delays, loses, duplicates and partitions messages.  Everything that
 * happens is an event in one queue ordered by (simulated time, sequence
 * number), and every random choice comes from one PRNG seeded from the seed,
 * so a seed replays exactly. */
#ifndef PERMIT_SIM_H
#define PERMIT_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/engine.h"
#include "ledger/block.h"
#include "ledger/genesis.h"
#include "ledger/keys.h"
#include "ledger/ledger.h"
#include "node/mempool.h"
#include "node/signstate.h"

#define SIM_MAX_N 8               /* 7 validators and a joiner */
#define SIM_POOL_TXS 256         /* mempool entries per node */
#define SIM_VERIFIED 8192        /* verified signatures remembered per seed (vcache.c) */
#define SIM_MAX_HEIGHT 512       /* heights a seed may reach */
#define SIM_MAX_EVENTS 3000000   /* events a seed may process */
#define SIM_MAX_APPS 512         /* applications the client files per seed */
#define SIM_CLOCK_AHEAD_MS 5000  /* DESIGN §5: a block further ahead of our clock is refused */
#define SIM_BLOCK_INTERVAL "500ms"
#define SIM_HEARTBEAT "60s"      /* longer than SIM_TX_BOUND_MS: no height may wait for it */
#define SIM_LIVENESS_MS 90000    /* after the heal, the chain reaches its goal within this */
#define SIM_TX_BOUND_MS 30000    /* after the heal, an admitted transaction leaves every
                                    correct mempool (committed, or refused by a rule)
                                    within this */
#define SIM_MAX_FRAME (64u << 20)

/* ---- PRNG (xoshiro256**, state from splitmix64 of the seed) ---- */

typedef struct {
    uint64_t s[4];
} sim_rng;

void sim_rng_seed(sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(sim_rng *r);
/* Uniform in [0, n); 0 when n == 0. */
uint64_t sim_rng_below(sim_rng *r, uint64_t n);
/* Uniform in [lo, hi] (hi >= lo). */
uint64_t sim_rng_range(sim_rng *r, uint64_t lo, uint64_t hi);
/* 1 with probability pm / 1000. */
int sim_rng_chance(sim_rng *r, unsigned pm);
void sim_rng_bytes(sim_rng *r, uint8_t *out, size_t n);

/* ---- shared immutable data (reference counted) ---- */

typedef struct {
    unsigned refs;
    uint8_t id[32];              /* SHA-256 of the envelope */
    size_t len;
    uint8_t *env;
} sim_tx;

sim_tx *sim_tx_new(const uint8_t *env, size_t len);
sim_tx *sim_tx_ref(sim_tx *t);
void sim_tx_unref(sim_tx *t);

/* A frame on the wire: u32 length prefix left out, as node/p2p.h hands
 * frames to the core. */
typedef struct {
    unsigned refs;
    unsigned from;
    size_t len;
    uint8_t data[];
} sim_msg;

sim_msg *sim_msg_new(unsigned from, const uint8_t *frame, size_t len);
sim_msg *sim_msg_ref(sim_msg *m);
void sim_msg_unref(sim_msg *m);

/* ---- events ---- */

typedef enum {
    EV_DELIVER = 1,   /* msg to node over the link of generation `round` */
    EV_TICK,          /* the node core's deadline (incarnation inc) */
    EV_LINK,          /* the link node-arg came up (handshake done), generation `round` */
    EV_TX_ARRIVE,     /* a client submits tx to node */
    EV_CLIENT,        /* the client files the next transaction */
    EV_CRASH,
    EV_RESTART,
    EV_PARTITION,     /* split the network: arg = mask of one side */
    EV_UNPARTITION,
    EV_HEAL,          /* faults end */
} sim_ev_kind;

typedef struct {
    uint64_t time, seq;
    sim_ev_kind kind;
    unsigned node;
    uint32_t inc;
    cons_step step;
    uint64_t height;
    uint32_t round;
    uint32_t arg;
    void *ptr;        /* sim_msg (EV_DELIVER) or sim_tx (EV_TX_ARRIVE), owned */
} sim_event;

typedef struct {
    sim_event *v;
    size_t n, cap;
    uint64_t next_seq;
} sim_queue;

int sim_queue_push(sim_queue *q, sim_event *ev);
int sim_queue_pop(sim_queue *q, sim_event *out);
void sim_queue_free(sim_queue *q); /* releases what events still own */

/* ---- the fault mix of a seed ---- */

enum {
    BYZ_EQUIVOCATE = 1,   /* two proposals, conflicting votes to different peers */
    BYZ_GARBAGE = 2,      /* wrong heights/rounds, random values, bad signatures and blocks */
    BYZ_MUTE = 4,         /* drops most of what it should send */
    BYZ_LURE = 8,         /* signed messages of far heights, then empty or no sync answers */
    BYZ_FLOOD = 16,       /* signed proposals for every round it leads in and beyond the window */
    BYZ_SILENT_PROPOSER = 32, /* never sends its proposals */
};

typedef struct {
    unsigned n, f;                  /* nodes (the joiner included), Byzantine tolerated */
    unsigned nv;                    /* validators of genesis: nodes 0..nv-1 */
    int vchange;                    /* validator-set changes (govsim.c): node nv joins when
                                       its department is added, a node key rotates, one
                                       retires */
    uint32_t delay_min, delay_max;  /* ms, every message */
    unsigned loss_pm, dup_pm;       /* per mille, until the heal */
    unsigned n_partitions, n_blips, n_crashes; /* blips: partitions of 0.1-2 s */
    unsigned lock_crashes;          /* crashes shortly after taking a lock, at most */
    unsigned commit_cuts;           /* a node cut off right after it commits, at most */
    uint32_t skew_max;              /* ms; each node's clock is off by up to this */
    unsigned byz_mask;              /* Byzantine validators */
    unsigned byz_flags;
    uint64_t heal_at;               /* faults stop here (ms) */
    uint64_t target;                /* heights to commit */
    uint32_t tx_every;              /* mean ms between client transactions */
    unsigned tx_restart_pm;         /* a transaction goes to a node that just restarted */
    unsigned build_fail_pm;         /* a block the proposer makes fails (a disk error) */
    int splicer;                    /* a keyless relay tries to splice every new link */
} sim_mix;

void sim_mix_describe(const sim_mix *m, char *out, size_t cap);

/* ---- nodes ---- */

struct core;
struct core_block;

typedef struct {
    struct sim_world *w;
    unsigned idx;
    int byz;
    int up;
    int dormant;                 /* the joiner, until its department is added */
    uint32_t inc;                /* incarnation: timers of an earlier life are void */
    int64_t skew;
    char db[600];
    struct core *c;              /* the node core: the same code permitd runs */
    ledger *L;
    node_mempool *mp;
    node_sign_state ss;          /* "data/sign_state": survives crashes */
    uint8_t *lock_rec;           /* "data/lock", the lock record: survives crashes */
    size_t lock_len;
    uint64_t height;             /* committed height (kept while down) */
    ledger_exec *held;           /* the executor's last executed block */
    uint8_t held_hash[32];
    uint64_t tick_at;            /* the EV_TICK pending, or 0 */
    uint64_t up_since;
    uint32_t crash_id;           /* the crash a pending restart belongs to */
    uint64_t crashes;
    /* Byzantine: the proposals it saw (by round % 64) and its current split */
    cons_hash byz_prop[64];
    uint64_t byz_prop_height[64];
    uint32_t byz_prop_round[64];
    uint64_t byz_split_height;
    uint32_t byz_split_round;
    unsigned byz_split;
    uint64_t atk_height;         /* the lock-breaking attack it played at this height */
    uint32_t atk_round;
    unsigned atk_decider;
    uint64_t flood_height;       /* the (height, round) it last flooded */
    uint32_t flood_round;
} sim_node;

/* ---- invariants ---- */

typedef struct {
    int set;
    unsigned node;
    uint8_t hash[32];
    uint8_t state_root[32];
} sim_chain_entry;

typedef struct {
    uint8_t used;
    uint8_t node;
    uint8_t type;
    uint32_t round;
    uint64_t height;
    cons_hash value;
} sim_signed_entry;

/* ---- the client ---- */

typedef struct {
    char uscc[19];
    char license[LEDGER_MAX_LICENSE_ID + 1];
    int industry;
    unsigned addresses;
    uint64_t last_tx;
} sim_app;

typedef struct {
    uint64_t seeds, seeds_n4, seeds_n7;
    uint64_t heights, sim_ms, events;
    uint64_t msgs_sent, msgs_lost, msgs_dup, msgs_cut;
    uint64_t txs_filed, txs_committed, txs_to_restarted, tx_wait_max_ms, builds_failed;
    uint64_t tail_ms_max;
    uint64_t partitions, crashes, restarts, links_up, splices_tried;
    uint64_t byz_equiv, byz_garbage, byz_attacks, byz_lures, byz_floods, byz_silent;
    uint64_t sign_refused, bad_sig, bad_block, equivocations_seen;
    uint64_t syncs_applied, sync_refused, rounds_max;
    uint64_t vset_adds, vset_rotations, vset_retirements; /* validator-set changes done */
} sim_stats;

typedef struct {
    int verbose;
} sim_opts;

typedef struct sim_world {
    uint64_t seed;
    sim_opts opt;
    sim_mix mix;
    sim_rng rng;
    uint64_t now;                /* simulated ms */
    uint64_t wall0;              /* the wall time that sim time 0 stands for */
    sim_queue q;
    const ledger_genesis *g;
    const ledger_keypair *node_key[SIM_MAX_N];
    const ledger_keypair *dept_key[LEDGER_MAX_DEPARTMENTS];
    size_t n_dept_keys;
    const ledger_keypair *registrar;
    /* validator-set changes (govsim.c) */
    const ledger_keypair *join_seal;  /* the joiner's department's seal key */
    const ledger_keypair *rot_key;    /* the node key a validator rotates to */
    int gov_stage;
    uint64_t gov_next;               /* when the step is filed again */
    unsigned gov_rotated, gov_retired; /* the nodes the steps chose */
    sim_node nodes[SIM_MAX_N];
    char dir[512];
    int faults_on;
    uint64_t rounds_max;
    int partitioned;
    uint32_t side;               /* partition: nodes with their bit set are on side B */
    uint64_t partition_id;
    unsigned lock_crashes_left;
    unsigned commit_cuts_left;
    uint32_t next_crash_id;
    uint64_t heal_height;        /* highest correct height at the heal */
    int healed;
    /* the quiet tail, once the goal is reached: one correct node restarts, the
     * client files one last transaction to it before its links are up, and
     * nothing else happens: it must still commit (no stranded transaction) */
    int tail;                    /* 0 not yet, 1 restarting, 2 filed, waiting */
    unsigned tail_node;
    uint64_t tail_at, tail_next_look;
    int finished;                /* the goal is reached and the tail is over */
    /* invariants */
    sim_chain_entry *chain;      /* [SIM_MAX_HEIGHT + 1] */
    sim_signed_entry *signed_tab;
    size_t signed_cap, signed_n;
    /* links (net.c): state and generation per pair, changed by crashes and
     * partitions; a message carries the generation it was sent on */
    uint8_t link_state[SIM_MAX_N][SIM_MAX_N];
    uint32_t link_gen[SIM_MAX_N][SIM_MAX_N];
    int failed;
    char violation[1024];
    uint8_t (*verified)[32];     /* vcache.c */
    /* client */
    sim_app *apps;
    size_t n_apps;
    uint32_t next_uscc;
    sim_stats st;
} sim_world;

/* Record a violation (the first one wins) and stop the seed. */
void sim_fail(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_log(sim_world *w, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sim_schedule(sim_world *w, sim_event *ev); /* ev->time is absolute */
uint64_t sim_correct_min_height(sim_world *w);
uint64_t sim_correct_max_height(sim_world *w);

/* net.c: links (up while both ends are up and can reach each other) and
 * frames over them */
int net_link_up(const sim_world *w, unsigned a, unsigned b);
void net_links_changed(sim_world *w);
void net_send(sim_world *w, unsigned from, unsigned to, const uint8_t *frame, size_t len);
/* To `to`, or with CORE_ALL_PEERS to every peer `from` is linked to. */
void net_send_to(sim_world *w, unsigned from, uint32_t to, const uint8_t *frame, size_t len);
void net_on_link_event(sim_world *w, const sim_event *ev);

/* node.c */
uint64_t node_clock(const sim_world *w, const sim_node *nd);
void node_boot(sim_world *w, sim_node *nd);     /* open ledger, start the core */
void node_crash(sim_world *w, sim_node *nd);
void node_close(sim_world *w, sim_node *nd);    /* end of seed */
void node_on_tick(sim_world *w, sim_node *nd, const sim_event *ev);
void node_on_msg(sim_world *w, sim_node *nd, sim_msg *m);
void node_on_link(sim_world *w, sim_node *nd, unsigned peer, int up);
void node_on_tx(sim_world *w, sim_node *nd, sim_tx *t);
void node_sign(sim_world *w, const sim_node *nd, cons_msg *m);
void node_sighash(const sim_world *w, const cons_msg *m, uint8_t out[32]);
/* Build a block on the node's tip from its mempool, skipping the first
 * skip_txs, at `time` (freeing any held execution; nothing is kept).  NULL
 * on failure. */
struct core_block *node_make_block(sim_world *w, sim_node *nd, uint64_t time, size_t skip_txs);
/* Send a frame from nd to `to` (CORE_ALL_PEERS: every linked peer). */
void node_send(sim_world *w, sim_node *nd, uint32_t to, const uint8_t *frame, size_t len);

/* byz.c: the Byzantine validator's outgoing frames and sync answers */
void byz_send(sim_world *w, sim_node *nd, uint32_t to, const uint8_t *frame, size_t len);
void byz_saw(sim_node *nd, const struct Permit__Frame *f);
void byz_serve(sim_world *w, sim_node *nd, uint32_t to, uint64_t from_h, uint32_t max);

/* client.c */
struct Permit__TxBody;
void client_tick(sim_world *w);
/* A transaction of body b signed by kp (timestamp and nonce from the seed). */
sim_tx *client_sign(sim_world *w, const ledger_keypair *kp, struct Permit__TxBody *b);
/* The correct node that is furthest ahead: where the client reads. */
sim_node *client_reader(sim_world *w);
/* File one new application to node `to` at once. */
void client_file_to(sim_world *w, unsigned to);
void client_free(sim_world *w);

/* govsim.c: the departments change the validator set (mix.vchange) */
void gov_tick(sim_world *w);

/* vcache.c: verification with results shared by all nodes of the seed */
int sim_verify_key(sim_world *w, const ledger_pubkey *key, const uint8_t sighash[32],
                   const uint8_t sig[64]);
/* c against the validators of its height, as L knows them (ledger_vset_acquire) */
int sim_commit_verify(sim_world *w, ledger *L, const ledger_commit *c,
                      const uint8_t block_hash[32], uint64_t height, ledger_err *err);
int sim_tx_verified(sim_world *w, const uint8_t tx_id[32]);
void sim_tx_remember(sim_world *w, const uint8_t tx_id[32]);

/* check.c */
void check_signed(sim_world *w, const sim_node *nd, const node_sign_state *s);
void check_commit(sim_world *w, sim_node *nd, uint64_t height);
void check_mempools(sim_world *w);
/* Transactions in nd's mempool that would still be admitted (valid). */
size_t check_valid_waiting(sim_world *w, const sim_node *nd);
void check_final(sim_world *w);
void check_free(sim_world *w);

#endif
