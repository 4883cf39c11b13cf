/* ledger/audit.h: offline verification of a proof bundle (DESIGN §9).
 *
 * Needs only the genesis and the bundle's bytes.  The checks, in order,
 * each with a number and a short name that failures report:
 *
 *   0 bundle       the bytes decode within their bounds (bundle.h)
 *   1 certificate  the header is of this chain and its validator set, and
 *                  more than 2/3 of the genesis validators, each once,
 *                  signed its precommit (ledger_commit_verify)
 *   2 log          every event is in the event log: its RFC 6962 inclusion
 *                  proof leads to the header's log_root at its log_size
 *   3 chain        the events form one unbroken chain by `prev`, seq 0 (an
 *                  APPLY) to the record's head and seq, all of this license,
 *                  in log order
 *   4 state        the record is the license's current state: its sparse
 *                  Merkle proof leads to the header's state_root, so no event
 *                  can have been left out or added
 *   5 replay       replaying the events' transactions under the rules of §4
 *                  (ledger_tx_decode, signatures, ledger_rules_apply at each
 *                  event's block time) gives exactly the record, status
 *                  included
 *   6 consistency  with a checkpoint: the header's log extends the
 *                  checkpoint's (RFC 6962 consistency proof), and at the
 *                  checkpoint's own height the header is the checkpoint's
 *                  block; without one, the bundle carries no consistency
 *                  proof (nothing could check it, so it is refused rather
 *                  than ignored)
 *   7 rollback     with a checkpoint: the header is not older (by height)
 *                  than the checkpoint; checked before 6, so a stale bundle
 *                  or a lagging node is named as such
 *   8 freshness    (ledger_audit_freshness, against the auditor's clock) the
 *                  certified block is at most the given age
 *
 * The first failing check stops verification; the failure names the check,
 * the event (by seq) or block concerned, and the reason.
 *
 * What a verified bundle proves: the license's record and history as they
 * stood at the certified block, nothing later.  A genuine bundle kept from
 * before a revocation still verifies; its age (ledger_audit_freshness) and
 * a checkpoint that never moves back are what tell the auditor so. */
#ifndef PERMIT_LEDGER_AUDIT_H
#define PERMIT_LEDGER_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "genesis.h"
#include "license.h"

typedef enum {
    AUDIT_BUNDLE = 0,
    AUDIT_CERTIFICATE = 1,
    AUDIT_LOG = 2,
    AUDIT_CHAIN = 3,
    AUDIT_STATE = 4,
    AUDIT_REPLAY = 5,
    AUDIT_CONSISTENCY = 6,
    AUDIT_ROLLBACK = 7,
    AUDIT_FRESHNESS = 8,
} ledger_audit_check;

/* "bundle", "certificate", "log", "chain", "state", "replay", "consistency",
 * "rollback", "freshness". */
const char *ledger_audit_check_name(int check);

typedef struct {
    int check;            /* ledger_audit_check */
    long event;           /* seq (index in the bundle) of the event concerned, or -1 */
    uint64_t height;      /* block concerned, or 0 */
    char reason[400];
} ledger_audit_failure;

/* A certified block the auditor verified before: what `permit audit
 * --checkpoint` keeps (docs/formats.md "Audit checkpoint"). */
typedef struct {
    char chain_id[LEDGER_MAX_CHAIN_ID + 1];
    uint64_t height;
    uint64_t log_size;
    uint8_t log_root[32];
    int has_block;              /* block_hash and time are known (files written
                                   before they were kept lack them) */
    uint8_t block_hash[32];
    uint64_t time;              /* the block's time, ms since the epoch */
    /* the governance record as that block had it: its events (0: none yet)
     * and the hash of the last (DESIGN §9: a later bundle must carry the
     * same history, so keys retired since cannot certify a branch that
     * leaves their retirement out); files written before lack them */
    int has_gov;
    uint32_t gov_seq;
    uint8_t gov_head[32];
} ledger_audit_checkpoint;

/* What a successful verification established. */
typedef struct {
    char license_id[65];
    ledger_license record;      /* the verified record (ledger_audit_report_clear) */
    int status;                 /* as of the header's time: EXPIRED derived */
    size_t n_events;
    size_t n_gov_events;        /* governance events replayed from genesis (0: none) */
    uint8_t gov_head[32];       /* the hash of the last of them (zero: none) */
    ledger_header header;       /* the certified header */
    uint8_t block_hash[32];
    size_t n_signers;
    int signers[LEDGER_MAX_DEPARTMENTS]; /* indices into vset->m->departments */
    struct ledger_gov *vset;    /* the membership whose validators certified the header
                                   (DESIGN §5, the set in force at its height; gov.h) */
    int consistency_checked;    /* a checkpoint was given and verified */
    uint64_t since_log_size;
} ledger_audit_report;

/* Verify bundle bytes against genesis g (and, when cp is not NULL, against
 * the checkpoint: it must be of g's chain; the header must not be older
 * than it (check 7); at the same height it must be the same block; and the
 * bundle must prove that the header's log extends the checkpoint's; a
 * checkpoint with a longer log than the header fails, since nothing in the
 * bundle can prove that).  Without a checkpoint, a bundle that carries a
 * consistency proof fails check 6.  Reads no clock.  Returns 0 and fills
 * rep (clear it with ledger_audit_report_clear), or -1 and fills fail.  rep
 * is cleared on failure. */
int ledger_audit_verify(const ledger_genesis *g, const uint8_t *bundle, size_t len,
                        const ledger_audit_checkpoint *cp, ledger_audit_report *rep,
                        ledger_audit_failure *fail) LEDGER_WUR;

void ledger_audit_report_clear(ledger_audit_report *rep);

/* How old a verified report is against the auditor's clock. */
typedef struct {
    uint64_t now;            /* the auditor's clock, ms since the epoch */
    uint64_t age_ms;         /* now - the block's time; 0 when the block is ahead */
    uint64_t ahead_ms;       /* the block's time - now when the block is ahead, else 0 */
    uint64_t stale_after_ms; /* the warning threshold (ledger_audit_stale_after_ms) */
    uint64_t max_age_ms;     /* the limit asked for; 0: none */
    int stale;               /* age_ms > stale_after_ms: warn */
    int status_now;          /* the record's status at `now` if nothing happened since
                                the block: EXPIRED where the block's time hid it */
} ledger_audit_age;

/* The age past which a verdict is called stale: three heartbeats of the
 * chain's parameters (a live chain certifies a block at least every
 * heartbeat, DESIGN §12). */
uint64_t ledger_audit_stale_after_ms(const ledger_genesis *g);

/* Check 8: fill *age for rep (verified by ledger_audit_verify) at the
 * auditor's clock now_ms; with max_age_ms > 0, fail when the certified
 * block is older than that.  The clock is the caller's, so a verifier and
 * its tests choose it.  Returns 0, or -1 with fail filled (check 8). */
int ledger_audit_freshness(const ledger_genesis *g, const ledger_audit_report *rep,
                           uint64_t now_ms, uint64_t max_age_ms, ledger_audit_age *age,
                           ledger_audit_failure *fail) LEDGER_WUR;

/* An age for people: "41s", "12m 5s", "3h 12m", "2d 3h", "850ms". */
void ledger_audit_age_format(uint64_t ms, char *out, size_t cap);

/* One line: "check 3 (chain) failed at event 4 (block 17): <reason>". */
void ledger_audit_failure_format(const ledger_audit_failure *f, char *out, size_t cap);

#endif
