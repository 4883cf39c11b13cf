/* consensus/engine.h: Tendermint consensus ("The latest gossip on BFT
 * consensus", Buchman, Kwon, Milosevic 2018) as a pure state machine.
 *
 * No sockets, clock, disk or threads: the node feeds events in (messages
 * whose signatures it has verified, timeouts it was asked to schedule, the
 * block it was asked to propose, the verdict on a block it was asked to
 * validate) and takes actions out (sign and broadcast, schedule a timeout,
 * make a block, validate a block, commit a block).  The same engine runs in
 * permitd and, under a seeded simulated network, in tests/sim.
 *
 * Values are blocks, named by their hash; the engine never sees block
 * contents.  Validators are numbered 0..n-1 in the order of the set in
 * force at the height (genesis order, then the membership's: DESIGN §5; the
 * set may differ from one height to the next); n = 3f+1 tolerates f
 * Byzantine.  The proposer of (height, round) is validator (height + round)
 * mod n. */
#ifndef PERMIT_CONSENSUS_ENGINE_H
#define PERMIT_CONSENSUS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define CONS_MAX_VALIDATORS 64
#define CONS_MAX_ROUNDS 128      /* rounds kept per height; the oldest unneeded ones go */
#define CONS_FUTURE_ROUNDS 64    /* how far ahead of ours a round is still recorded */
#define CONS_MAX_ACTIONS 256     /* actions waiting to be taken (cons_failed past it) */
#define CONS_NIL_ROUND (-1)

typedef struct {
    uint8_t b[32];               /* all zero: nil */
} cons_hash;

typedef enum {
    CONS_PREVOTE = 1,
    CONS_PRECOMMIT = 2,
    CONS_PROPOSAL = 3,
} cons_type;

typedef enum { CONS_STEP_PROPOSE = 0, CONS_STEP_PREVOTE = 1, CONS_STEP_PRECOMMIT = 2 } cons_step;

/* A signed consensus message, its signature already checked by the node. */
typedef struct {
    cons_type type;
    uint64_t height;
    uint32_t round;
    cons_hash value;             /* block hash, or nil for votes */
    int32_t pol_round;           /* proposals: valid round, or CONS_NIL_ROUND */
    uint32_t validator;          /* sender */
    uint8_t sig[64];             /* kept to build commit certificates */
} cons_msg;

typedef enum {
    CONS_ACT_BROADCAST = 1,      /* sign msg (after persisting what is signed), send it, and
                                    hand it back signed with cons_on_msg: the engine counts
                                    its own message only then.  A vote for a block carries
                                    its justification: the prevotes (ev_round, signers, sigs)
                                    for that block that the rule which fired counted, so that
                                    the signer can check a lock is never broken */
    CONS_ACT_GET_VALUE,          /* make a block for (height, round); answer cons_on_value */
    CONS_ACT_VALIDATE,           /* validate block `value` at height; answer cons_on_validated */
    CONS_ACT_TIMEOUT,            /* call cons_on_timeout(step, height, round) after delay_ms */
    CONS_ACT_COMMIT,             /* block `value` is decided at height: commit it with the
                                    certificate (round, sigs of validators); then height+1 */
} cons_act_kind;

typedef struct {
    cons_act_kind kind;
    cons_msg msg;                /* BROADCAST (validator = self, sig to be made) */
    uint64_t height;
    uint32_t round;
    cons_step step;              /* TIMEOUT */
    uint64_t delay_ms;           /* TIMEOUT */
    cons_hash value;             /* VALIDATE, COMMIT */
    /* COMMIT: the precommits of the certificate.  BROADCAST: the prevotes
     * for msg.value in round ev_round behind a vote for a block (a
     * precommit: its own round; a prevote against our lock: the proof of
     * lock of the proposal; a re-proposal: its pol_round), else n_sigs = 0
     * and ev_round = CONS_NIL_ROUND */
    int32_t ev_round;
    size_t n_sigs;
    uint32_t signers[CONS_MAX_VALIDATORS];
    uint8_t sigs[CONS_MAX_VALIDATORS][64];
} cons_action;

typedef struct {
    unsigned n;                  /* validators */
    int self;                    /* our index, or -1 for a node that only follows */
    /* The validators of each height, asked when the engine enters it (at
     * cons_start, cons_advance and each decision): n and our index (or -1)
     * for `height`; 0, or -1 when the host cannot say, which stops the
     * engine (cons_failed).  NULL: n and self above for every height. */
    int (*validators)(void *ctx, uint64_t height, unsigned *n, int *self);
    void *ctx;
    uint64_t propose_ms, propose_delta_ms;     /* timeoutPropose(r) = base + r * delta */
    uint64_t prevote_ms, prevote_delta_ms;
    uint64_t precommit_ms, precommit_delta_ms;
    int wait_for_value;          /* round 0 waits for cons_activate before its propose timeout */
    uint64_t own_propose_extra_ms; /* added to the proposer's own propose timeout: the time
                                    it may take to make its block (the block interval) */
} cons_config;

typedef struct cons_engine cons_engine;

/* A new engine; NULL on allocation failure or n out of range. */
cons_engine *cons_new(const cons_config *cfg);
void cons_free(cons_engine *e);

/* Start a new engine (at boot, or after a crash) at `height`, in round
 * `round`.  Once only: an engine that started never forgets a height it
 * may have signed at (its lock); it moves on with cons_advance.  Returns 0,
 * or -1 when the engine had started already. */
int cons_start(cons_engine *e, uint64_t height, uint32_t round);

/* Move to `height` because every height below it is decided and committed
 * (block sync applied certified blocks): what this engine held about lower
 * heights, its lock included, no longer matters.  Does nothing (returns -1)
 * unless height is above the current one. */
int cons_advance(cons_engine *e, uint64_t height);

/* After a restart, right after cons_start: the lock this validator held
 * (its last non-nil precommit at this height, from its sign state), so that
 * forgetting it in a crash cannot make it prevote against it. */
void cons_restore_lock(cons_engine *e, int32_t locked_round, const cons_hash *locked_value);

/* With wait_for_value: transactions are waiting (or a heartbeat is due), so
 * round 0 may time out on a silent proposer.  No effect otherwise. */
void cons_activate(cons_engine *e);

/* Events. */
void cons_on_msg(cons_engine *e, const cons_msg *m);
void cons_on_timeout(cons_engine *e, cons_step step, uint64_t height, uint32_t round);
void cons_on_value(cons_engine *e, uint64_t height, uint32_t round, const cons_hash *value);
void cons_on_validated(cons_engine *e, uint64_t height, const cons_hash *value, int valid);

/* Take the next action; 0 when there is none. */
int cons_next_action(cons_engine *e, cons_action *out);

/* 1 when the engine had to drop an action because CONS_MAX_ACTIONS were
 * waiting (the host did not take its actions, a programming error), or the
 * host could not name a height's validators.  The engine is not to be
 * trusted to be live after it; the node must stop. */
int cons_failed(const cons_engine *e);

/* Introspection. */
uint64_t cons_height(const cons_engine *e);
uint32_t cons_round(const cons_engine *e);
cons_step cons_current_step(const cons_engine *e);
/* The lock (line 36): round and value, or CONS_NIL_ROUND. */
int32_t cons_locked_round(const cons_engine *e, cons_hash *value);
/* The valid value (line 36/42): round and value, or CONS_NIL_ROUND. */
int32_t cons_valid_round(const cons_engine *e, cons_hash *value);
/* The proposer of (height, round) among the validators of the engine's
 * current height (another height's set may differ in size). */
unsigned cons_proposer(const cons_engine *e, uint64_t height, uint32_t round);
/* The validators of the current height, and our index among them (-1). */
unsigned cons_validators(const cons_engine *e);
int cons_self(const cons_engine *e);
/* Messages dropped because a validator sent two different ones for the same
 * (round, type): evidence of equivocation. */
uint64_t cons_equivocations(const cons_engine *e);

int cons_hash_is_nil(const cons_hash *h);
int cons_hash_eq(const cons_hash *a, const cons_hash *b);

#endif
