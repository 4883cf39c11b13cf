/* ledger/block.h: block headers, votes and commit certificates in their
 * canonical byte layouts (docs/formats.md). */
#ifndef PERMIT_LEDGER_BLOCK_H
#define PERMIT_LEDGER_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "genesis.h"
#include "permit.pb-c.h"

#define LEDGER_HEADER_VERSION 1
#define LEDGER_MAX_HEADER_BYTES 512
#define LEDGER_MAX_CHAIN_ID 64

typedef struct {
    char chain_id[LEDGER_MAX_CHAIN_ID + 1];
    uint64_t height;
    uint64_t time;              /* ms since the epoch, proposer's clock */
    uint8_t prev_hash[32];      /* previous block hash; genesis hash at height 1 */
    uint8_t tx_root[32];        /* RFC 6962 root over the envelopes */
    uint8_t state_root[32];     /* commitment to every license record */
    uint64_t log_size;          /* event log size after the block */
    uint8_t log_root[32];       /* event log root after the block */
    uint8_t validators_hash[32];
    uint8_t proposer[32];       /* node key of the proposer */
    uint8_t last_commit_hash[32];
} ledger_header;

int ledger_header_encode(const ledger_header *h, uint8_t *out, size_t cap, size_t *len);
int ledger_header_decode(ledger_header *h, const uint8_t *p, size_t len,
                         ledger_err *err) LEDGER_WUR;
/* block_hash = SHA-256(canonical header bytes). */
void ledger_header_hash(const ledger_header *h, uint8_t out[32]);

/* Vote types. */
enum { LEDGER_VOTE_PREVOTE = 1, LEDGER_VOTE_PRECOMMIT = 2, LEDGER_VOTE_PROPOSAL = 3 };

/* The 32-byte message a validator signs for a vote:
 * TaggedHash("permit/vote/v1", canonical vote {chain_id, type, height, round,
 * block_hash}).  A zero block_hash is a vote for nil. */
void ledger_vote_sighash(const char *chain_id, int type, uint64_t height, uint32_t round,
                         const uint8_t block_hash[32], uint8_t out[32]);

/* What a proposer signs: TaggedHash("permit/proposal/v1", str chain_id ||
 * u64 height || u32 round || i32 pol_round (two's complement, -1 = none) ||
 * block_hash).  Unlike votes it covers the proof-of-lock round, so nobody can
 * relay a proposal with another one. */
void ledger_proposal_sighash(const char *chain_id, uint64_t height, uint32_t round,
                             int32_t pol_round, const uint8_t block_hash[32], uint8_t out[32]);

typedef struct {
    uint32_t validator;  /* index in genesis validators[] */
    uint8_t sig[64];
} ledger_commit_sig;

typedef struct {
    uint64_t height;
    uint32_t round;
    uint8_t block_hash[32];
    size_t n_sigs;
    ledger_commit_sig sigs[LEDGER_MAX_DEPARTMENTS];
} ledger_commit;

#define LEDGER_MAX_COMMIT_BYTES (1 + 8 + 4 + 32 + 2 + LEDGER_MAX_DEPARTMENTS * 66)

/* Canonical certificate bytes: signatures sorted by validator index. */
int ledger_commit_encode(const ledger_commit *c, uint8_t *out, size_t cap, size_t *len);
/* SHA-256 of the canonical bytes: the next header's last_commit_hash. */
void ledger_commit_hash(const ledger_commit *c, uint8_t out[32]);
/* Check a certificate against the genesis validator set: more than 2/3 of
 * the validators, each at most once, each signature valid over this block's
 * precommit.  Errors (LEDGER_ERR_VERIFY) say which check failed. */
int ledger_commit_verify(const ledger_genesis *g, const ledger_commit *c,
                         const uint8_t block_hash[32], uint64_t height,
                         ledger_err *err) LEDGER_WUR;
/* Quorum for n validators: floor(2n/3) + 1. */
size_t ledger_quorum(size_t n);

/* A certificate from its protobuf form, bounded (at most
 * LEDGER_MAX_DEPARTMENTS signatures of 64 bytes, a 32-byte hash).  Returns 0,
 * or -1 with err (LEDGER_ERR_INVALID, rule "certificate") saying what is
 * malformed; pc may be NULL ("no certificate"). */
int ledger_commit_from_pb(ledger_commit *c, const Permit__Commit *pc, ledger_err *err) LEDGER_WUR;

/* The protobuf form of a certificate, pointing into it (no copies). */
typedef struct {
    Permit__Commit pc;
    Permit__CommitSig sigs[LEDGER_MAX_DEPARTMENTS];
    Permit__CommitSig *ptrs[LEDGER_MAX_DEPARTMENTS];
} ledger_commit_pb;

/* Fill w->pc from c; c must outlive w and have at most
 * LEDGER_MAX_DEPARTMENTS signatures. */
void ledger_commit_to_pb(const ledger_commit *c, ledger_commit_pb *w);

#endif
