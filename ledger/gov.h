/* ledger/gov.h: governance (DESIGN §2 "Membership is state", §11).
 *
 * The membership in force (departments with their seal and node keys,
 * registrars, observers, the catalogue and the parameters) starts from
 * genesis and changes only through GOV_PROPOSE / GOV_APPROVE (a quorum of
 * departments) and RETIRE_KEY (a key disables itself).  It lives in state as
 * the governance record `GOV-<region>`: a record in the licenses column
 * family, under state_root like a license, whose events are hash-chained and
 * appended to the event log like a license's (docs/formats.md, "Governance
 * record").  The record does not exist until the first governance
 * transaction: until then the membership is genesis.
 *
 * A decoded record is a ledger_gov.  Its `m` is the membership shaped as a
 * genesis (ledger_genesis), so every rule that asks "who may sign this"
 * (ledger_tx_authorize, ledger_tx_check_fields, ledger_rules_apply) asks it
 * unchanged.  A ledger_gov handed out by the ledger (ledger_gov_acquire) is
 * immutable and reference-counted, so any thread may read it. */
#ifndef PERMIT_LEDGER_GOV_H
#define PERMIT_LEDGER_GOV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "genesis.h"
#include "keys.h"
#include "tx.h"

#define LEDGER_GOV_MAX_OPEN 64        /* open proposals at once */
#define LEDGER_GOV_MAX_RETIRED 4096   /* keys retired or replaced, never used again */
#define LEDGER_MAX_GOV_RECORD (8u << 20)
/* Governance transactions in one block: each rewrites the whole record, so
 * a department's key cannot make a block slow with thousands of them. */
#define LEDGER_GOV_MAX_PER_BLOCK 64
#define LEDGER_GOV_ID_PREFIX "GOV-"

/* The changes of DESIGN §11 (permit.GovChange.type). */
enum {
    LEDGER_GOV_ADD_REGISTRAR = 1,
    LEDGER_GOV_REMOVE_REGISTRAR = 2,
    LEDGER_GOV_ADD_DEPARTMENT = 3,
    LEDGER_GOV_REMOVE_DEPARTMENT = 4,
    LEDGER_GOV_ROTATE_KEY = 5,
    LEDGER_GOV_ADD_OBSERVER = 6,
    LEDGER_GOV_REMOVE_OBSERVER = 7,
    LEDGER_GOV_SET_INDUSTRY = 8,
    LEDGER_GOV_REMOVE_INDUSTRY = 9,
    LEDGER_GOV_SET_PARAM = 10,
};
#define LEDGER_GOV_CHANGE_MAX LEDGER_GOV_SET_PARAM

/* Status of a proposal, stored for closed ones; an open one whose expires_at
 * has passed reads EXPIRED (derived, like a license's EXPIRED). */
enum { LEDGER_GOV_OPEN = 1, LEDGER_GOV_EXECUTED = 2, LEDGER_GOV_EXPIRED = 3 };

/* One change; which fields it uses depends on type (proto/permit.proto,
 * GovChange).  Strings are never NULL in a decoded change (empty when
 * unused). */
typedef struct {
    uint32_t type;
    char *name, *department, *p2p, *rpc, *code;
    int has_key, has_node, has_industry;
    uint8_t key[32];
    uint8_t node_key[32];
    ledger_industry industry; /* items[].dept is -1 until checked */
    uint64_t value;
} ledger_gov_change;

typedef struct {
    uint32_t id;
    char proposer[33];        /* department id */
    uint64_t height;          /* block of the GOV_PROPOSE */
    uint64_t expires_at;      /* ms */
    ledger_gov_change ch;
    size_t n_approvals;       /* the proposer first, then in approval order */
    char approvals[LEDGER_MAX_DEPARTMENTS][33];
    /* closed proposals only (ledger_gov_get_proposal) */
    uint8_t status;           /* LEDGER_GOV_* */
    uint64_t closed_height;
} ledger_gov_proposal;

typedef struct ledger_gov {
    int refs;                 /* atomic; ledger_gov_release frees at 0 */
    ledger_genesis *m;        /* the membership in force, genesis-shaped (owned) */
    size_t n_observers;
    ledger_observer *observers;
    size_t n_retired;
    uint8_t (*retired)[32];   /* ascending */
    int exists;               /* the record exists (seq and head are its latest event) */
    uint32_t seq;
    uint8_t head[32];
    uint32_t next_proposal;   /* 1 before any */
    size_t n_open;
    ledger_gov_proposal *open;
} ledger_gov;

/* The record id, "GOV-<region>", in out (at least 16 bytes). */
void ledger_gov_record_id(const ledger_genesis *g, char *out, size_t cap);
/* 1 when id names a governance record (starts with "GOV-"). */
int ledger_gov_is_record_id(const char *id);

/* The membership of a chain whose record does not exist yet: genesis.
 * 0 and *out (refs 1), or -1 (out of memory). */
int ledger_gov_from_genesis(const ledger_genesis *g, ledger_gov **out, ledger_err *err)
    LEDGER_WUR;
/* Decode a governance record (bounded: every count and length is checked
 * before use, trailing bytes refused); identity fields (chain id, region,
 * hashes) come from g.  *out has refs 1. */
int ledger_gov_decode(const ledger_genesis *g, const uint8_t *p, size_t n, ledger_gov **out,
                      ledger_err *err) LEDGER_WUR;
/* The canonical record bytes (docs/formats.md), malloc'd. */
int ledger_gov_encode(const ledger_gov *gv, const char *record_id, uint8_t **out, size_t *len,
                      ledger_err *err) LEDGER_WUR;
/* A deep copy with refs 1 (encode and decode). */
int ledger_gov_copy(const ledger_genesis *g, const ledger_gov *gv, ledger_gov **out,
                    ledger_err *err) LEDGER_WUR;
/* Take / drop a reference; release frees at zero.  NULL-safe. */
ledger_gov *ledger_gov_ref(ledger_gov *gv);
void ledger_gov_release(ledger_gov *gv);

/* A closed proposal's stored bytes (CF_META "gov/p/" || u32 id): status,
 * closing height and the proposal (docs/formats.md). */
int ledger_gov_proposal_encode(const ledger_gov_proposal *p, uint8_t **out, size_t *len,
                               ledger_err *err) LEDGER_WUR;
int ledger_gov_proposal_decode(const uint8_t *b, size_t n, ledger_gov_proposal *p,
                               ledger_err *err) LEDGER_WUR;
/* Free what a proposal or change owns (not the struct). */
void ledger_gov_proposal_clear(ledger_gov_proposal *p);
void ledger_gov_change_clear(ledger_gov_change *c);

/* What one governance transaction does (ledger_gov_step). */
typedef struct {
    ledger_gov *after;            /* the record after it (refs 1); seq and head
                                     are the caller's to set (the event) */
    ledger_gov_proposal *closed;  /* proposals it closed: executed, or expired
                                     and dropped from the open list */
    size_t n_closed;
    uint32_t proposal_id;         /* GOV_PROPOSE / GOV_APPROVE: the proposal */
    int executed;                 /* the proposal's change was executed */
} ledger_gov_outcome;

/* The stateful rules of GOV_PROPOSE, GOV_APPROVE and RETIRE_KEY (docs/rules.md,
 * "Governance"), free of storage: `base` is the record as the block has made
 * it so far, `inforce` the membership in force at the block (whose quorum
 * counts and which authorised the signer: `dept` is the signer's department
 * in inforce->m for GOV_PROPOSE / GOV_APPROVE), `vset` the membership whose
 * validators certify the block (DESIGN §5: a change to them must leave a
 * quorum of them), `now` the block time and `height` its height.  On
 * success *out holds the new record; on refusal nothing is allocated and
 * err names the rule. */
int ledger_gov_step(const ledger_gov *base, const ledger_gov *inforce, const ledger_gov *vset,
                    const ledger_tx *tx, int dept,
                    uint64_t now, uint64_t height, ledger_gov_outcome *out, ledger_err *err)
    LEDGER_WUR;
void ledger_gov_outcome_clear(ledger_gov_outcome *o);

struct ledger;
/* A proposal by id, open (as of the durable tip) or closed: 1 found (free
 * with ledger_gov_proposal_clear), 0 not found, -1 error.  An open one has
 * status LEDGER_GOV_OPEN (expired when expires_at <= the tip's time). */
int ledger_gov_get_proposal(struct ledger *L, uint32_t id, ledger_gov_proposal *out,
                            ledger_err *err) LEDGER_WUR;

/* The governance record's stored bytes (the durable tip's): 1 (*out
 * malloc'd), 0 when the chain has none yet, -1. */
int ledger_gov_record_bytes(struct ledger *L, uint8_t **out, size_t *len, ledger_err *err)
    LEDGER_WUR;

/* The membership in force at block `height` (the record after the last
 * block before it that changed it; genesis before any): *out with refs 1. */
int ledger_gov_at(struct ledger *L, uint64_t height, ledger_gov **out, ledger_err *err)
    LEDGER_WUR;

/* Name of a change type ("add_registrar", ...), "unknown" otherwise; and
 * the inverse (-1 when unknown).  Parameter names settable by set_param. */
const char *ledger_gov_change_name(uint32_t type);
int ledger_gov_change_parse(const char *name);

/* ledger_tx_authorize against the membership gv (an observer's key may
 * also retire itself).  *pk points into gv. */
int ledger_gov_authorize(const ledger_gov *gv, const ledger_tx *tx, const ledger_pubkey **pk,
                         int *dept, ledger_err *err) LEDGER_WUR;

/* Index of the observer with this node key, or -1. */
int ledger_gov_observer(const ledger_gov *gv, const uint8_t key[32]);
/* 1 when the key was retired or replaced (never usable again). */
int ledger_gov_key_retired(const ledger_gov *gv, const uint8_t key[32]);
/* Distinct departments in force that approved p; and how many are needed:
 * the smallest count that exceeds 2/3 of the departments in force. */
size_t ledger_gov_approvals(const ledger_gov *gv, const ledger_gov_proposal *p);
size_t ledger_gov_needed(const ledger_gov *gv);

#endif
