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
 *                  checkpoint's (RFC 6962 consistency proof)
 *
 * The first failing check stops verification; the failure names the check,
 * the event (by seq) or block concerned, and the reason. */
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
} ledger_audit_check;

/* "bundle", "certificate", "log", "chain", "state", "replay", "consistency". */
const char *ledger_audit_check_name(int check);

typedef struct {
    int check;            /* ledger_audit_check */
    long event;           /* seq (index in the bundle) of the event concerned, or -1 */
    uint64_t height;      /* block concerned, or 0 */
    char reason[400];
} ledger_audit_failure;

/* A log state the auditor saw before: what `permit audit --checkpoint`
 * keeps. */
typedef struct {
    char chain_id[LEDGER_MAX_CHAIN_ID + 1];
    uint64_t height;
    uint64_t log_size;
    uint8_t log_root[32];
} ledger_audit_checkpoint;

/* What a successful verification established. */
typedef struct {
    char license_id[65];
    ledger_license record;      /* the verified record (ledger_audit_report_clear) */
    int status;                 /* as of the header's time: EXPIRED derived */
    size_t n_events;
    ledger_header header;       /* the certified header */
    uint8_t block_hash[32];
    size_t n_signers;
    int signers[LEDGER_MAX_DEPARTMENTS]; /* department indices, by validator index */
    int consistency_checked;    /* a checkpoint was given and verified */
    uint64_t since_log_size;
} ledger_audit_report;

/* Verify bundle bytes against genesis g (and, when cp is not NULL, against
 * the checkpoint: it must be of g's chain, and the bundle must prove that
 * the header's log extends it; a checkpoint with a longer log than the
 * header fails, since nothing in the bundle can prove that).  Returns 0 and
 * fills rep (clear it with ledger_audit_report_clear), or -1 and fills fail.
 * rep is cleared on failure. */
int ledger_audit_verify(const ledger_genesis *g, const uint8_t *bundle, size_t len,
                        const ledger_audit_checkpoint *cp, ledger_audit_report *rep,
                        ledger_audit_failure *fail) LEDGER_WUR;

void ledger_audit_report_clear(ledger_audit_report *rep);

/* One line: "check 3 (chain) failed at event 4 (block 17): <reason>". */
void ledger_audit_failure_format(const ledger_audit_failure *f, char *out, size_t cap);

#endif
