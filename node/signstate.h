/* node/signstate.h: what this validator signed last (DESIGN §5, CometBFT's
 * "privval" rule).  Before any proposal or vote leaves, the node records
 * (height, round, step, block hash) with fsync; after a restart it never
 * signs anything that conflicts with it: an earlier (height, round, step),
 * or the same one for another block. */
#ifndef PERMIT_NODE_SIGNSTATE_H
#define PERMIT_NODE_SIGNSTATE_H

#include <stdint.h>

#include "ledger/err.h"

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

/* 1 when signing (height, round, step, hash) is safe after `last`. */
int node_sign_allowed(const node_sign_state *last, uint64_t height, uint32_t round, int step,
                      const uint8_t hash[32]);

/* Read DIR/data/sign_state; a missing file is "nothing signed".  A file that
 * is truncated, has a wrong checksum or an unknown version is refused with a
 * message saying so: the node must not start by guessing. */
int node_sign_state_load(const char *path, node_sign_state *out, ledger_err *err) LEDGER_WUR;

/* Write atomically and durably: a temporary file, fsync, rename, fsync of
 * the folder. */
int node_sign_state_save(const char *path, const node_sign_state *s, ledger_err *err) LEDGER_WUR;

#endif
