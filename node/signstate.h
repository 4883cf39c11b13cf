/* node/signstate.h: what this validator signed last, and the rules that
 * keep it from ever signing what could fork the chain (DESIGN §5, CometBFT's
 * "privval" rule, Tendermint's lock).
 *
 * Before any proposal or vote leaves, the node records (height, round, step,
 * block hash) and its lock (its last precommit for a block at that height)
 * with fsync.  It then never signs:
 *  - anything for an earlier (height, round, step), or the same one for
 *    another block;
 *  - a precommit for a block without 2f+1 prevotes for that block in that
 *    round (the proof of lock of Tendermint's line 36);
 *  - a prevote for a block other than the one it is locked on, unless 2f+1
 *    prevotes for that block in a round at or after its lock and before this
 *    round show that the lock may go (line 28).
 * The engine attaches those prevotes to its votes (cons_action); the signer
 * verifies them itself, so no bug above it, no restart and no resync can
 * make it break its lock. */
#ifndef PERMIT_NODE_SIGNSTATE_H
#define PERMIT_NODE_SIGNSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/err.h"
#include "ledger/genesis.h"

/* Steps in signing order within a round. */
enum { SIGN_STEP_PROPOSAL = 0, SIGN_STEP_PREVOTE = 1, SIGN_STEP_PRECOMMIT = 2 };

typedef struct {
    int present;            /* 0: nothing signed yet */
    uint64_t height;
    uint32_t round;
    uint8_t step;
    uint8_t hash[32];       /* zero for nil */
    int32_t lock_round;     /* the last non-nil precommit at `height`, or -1 */
    uint8_t lock_hash[32];
} node_sign_state;

/* The state after signing (height, round, step, hash) on top of `last`:
 * a non-nil precommit becomes the lock; a new height forgets the old one. */
void node_sign_state_next(const node_sign_state *last, uint64_t height, uint32_t round,
                          int step, const uint8_t hash[32], node_sign_state *next);

/* The prevotes a vote for a block rests on: for `hash` in round `round`
 * (-1: none), by validators[i] with sigs[i]. */
typedef struct {
    int32_t round;
    size_t n;
    const uint32_t *validators;
    const uint8_t (*sigs)[64];
} node_sign_evidence;

/* Checks one prevote signature of validator v over the 32-byte sighash;
 * 1 when it verifies.  NULL: ledger_verify with the genesis node key. */
typedef int (*node_sign_verify_fn)(void *ctx, const ledger_genesis *g, uint32_t v,
                                   const uint8_t sighash[32], const uint8_t sig[64]);

/* NULL when signing (height, round, step, hash) is safe after `last` with
 * the evidence `ev` (may be NULL), else why not, in words.  g gives the
 * chain id, the validators and the quorum. */
const char *node_sign_refusal(const node_sign_state *last, const ledger_genesis *g,
                              uint64_t height, uint32_t round, int step, const uint8_t hash[32],
                              const node_sign_evidence *ev, node_sign_verify_fn verify,
                              void *verify_ctx);

/* Read DIR/data/sign_state; a missing file is "nothing signed".  A file that
 * is truncated, has a wrong checksum or an unknown version is refused with a
 * message saying so: the node must not start by guessing. */
int node_sign_state_load(const char *path, node_sign_state *out, ledger_err *err) LEDGER_WUR;

/* Write atomically and durably: a temporary file, fsync, rename, fsync of
 * the folder. */
int node_sign_state_save(const char *path, const node_sign_state *s, ledger_err *err) LEDGER_WUR;

/* The same for any bytes (the lock record, node/core.h): 0, or -1 with
 * err; a failure at any step, the folder's fsync included, is a failure. */
int node_file_save(const char *path, const uint8_t *buf, size_t len, ledger_err *err) LEDGER_WUR;

/* Read a whole file of at most max bytes: 1 (*buf malloc'd), 0 when it does
 * not exist, -1 with err. */
int node_file_load(const char *path, size_t max, uint8_t **buf, size_t *len,
                   ledger_err *err) LEDGER_WUR;

#endif
