/* ledger/license.h: the license record and the per-license event.
 *
 * Both have one canonical byte layout (docs/formats.md): the record's bytes
 * are what the licenses column family stores and what state_root commits to;
 * an event's bytes are the leaf of the chain-wide event log, and its leaf hash
 * is the event's hash, which the next event's `prev` and the record's `head`
 * carry. */
#ifndef PERMIT_LEDGER_LICENSE_H
#define PERMIT_LEDGER_LICENSE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "genesis.h"
#include "limits.h"

typedef enum {
    LIC_PENDING = 1,
    LIC_ISSUED_UNVERIFIED = 2,
    LIC_ISSUED = 3,
    LIC_REJECTED = 4,
    LIC_SUSPENDED = 5,
    LIC_REVOKED = 6,
    LIC_CANCELLED = 7,
    LIC_EXPIRED = 8, /* never stored: derived from expires_at and block time */
    LIC_OVERDUE = 9, /* never stored: ISSUED_UNVERIFIED past verify_deadline, not expired */
} ledger_status;

typedef enum {
    DEC_PENDING = 0,   /* awaiting the department's decision */
    DEC_APPROVED = 1,
    DEC_REJECTED = 2,
    DEC_COMMITTED = 3, /* issued on the applicant's commitment (告知承诺) */
    DEC_INSTANT = 4,   /* approved by the ledger's rule `instant` (秒批) in the
                          block of the APPLY: no department signed, none verifies */
} ledger_decision;

/* The kind of an APPLY's event when the rule `instant` approved permit items
 * in it (docs/rules.md "instant"): the event names the rule.  No transaction
 * has this kind (ledger_tx_decode refuses it); its event's tx_id is the
 * APPLY's. */
#define LEDGER_EVENT_APPLY_INSTANT 17

typedef struct {
    uint32_t id;       /* stable within the license; the primary is 1 */
    char *division;
    char *text;
    uint8_t primary;
} ledger_address;

typedef struct {
    char *permit;
    char *department;
    uint8_t decision;  /* ledger_decision */
    uint8_t verified;  /* commitment route: the department has verified */
    uint64_t decided_at;
} ledger_item;

typedef struct {
    char *id;
    char *uscc;
    char *name;
    char *legal_rep;
    char *industry;
    char *scope;
    uint8_t status;          /* ledger_status, never LIC_EXPIRED */
    uint8_t commitment;
    uint64_t applied_at;     /* ms since the epoch (block time) */
    uint64_t issued_at;      /* 0 until issued */
    uint64_t expires_at;     /* 0 until issued */
    uint64_t verify_deadline;/* commitment route only */
    char *suspended_by;      /* department id while SUSPENDED, else "" */
    uint32_t next_address_id;
    size_t n_addresses;
    ledger_address *addresses;
    size_t n_items;
    ledger_item items[LEDGER_MAX_ITEMS];
    size_t n_documents;
    uint8_t documents[LEDGER_MAX_DOCUMENTS][32];
    uint32_t seq;            /* seq of the latest event (APPLY is 0) */
    uint8_t head[32];        /* hash of the latest event */
    /* The holder's e-seal key (DESIGN §2), named by the pledge of a
     * commitment APPLY or by SET_HOLDER_KEY; with it the record is of
     * version 2 (docs/formats.md).  pledge_sha256: the SHA-256 of the
     * pledge text the holder signed, zero when none was. */
    uint8_t has_holder;
    uint8_t holder_key[32];
    uint8_t pledge_sha256[32];
} ledger_license;

typedef struct {
    char license_id[65];
    uint32_t seq;
    uint8_t kind;            /* permit TxKind */
    uint8_t tx_id[32];
    uint64_t height;
    uint64_t time;
    uint8_t prev[32];        /* zero for seq 0 */
} ledger_event;

/* Free every string and array of a record (not the struct); NULL-safe. */
void ledger_license_clear(ledger_license *l);

/* Canonical encoding; *out is malloc'd.  Returns 0 or -1 (err). */
int ledger_license_encode(const ledger_license *l, uint8_t **out, size_t *len,
                          ledger_err *err) LEDGER_WUR;

/* Decode canonical bytes into *l (zeroed first); refuses trailing bytes and
 * out-of-range values. On failure *l holds nothing. */
int ledger_license_decode(ledger_license *l, const uint8_t *p, size_t len,
                          ledger_err *err) LEDGER_WUR;

/* Status as seen at block time `now`: LIC_EXPIRED for an issued, unverified or
 * suspended license whose expires_at has passed; otherwise LIC_OVERDUE for an
 * ISSUED_UNVERIFIED one whose verify_deadline has passed (DESIGN §2). */
ledger_status ledger_license_status_at(const ledger_license *l, uint64_t now);

/* 1 when the license is ISSUED_UNVERIFIED (stored) and block time `now` has
 * reached its verify_deadline, expired or not: such a license cannot be
 * renewed, amended or given addresses until verified or revoked. */
int ledger_license_overdue_at(const ledger_license *l, uint64_t now);

/* Active: issued (verified or not), not expired. */
int ledger_license_active_at(const ledger_license *l, uint64_t now);

const char *ledger_status_name(int status);
/* Parse a status name (as ledger_status_name prints it); -1 if unknown. */
int ledger_status_parse(const char *s);
const char *ledger_decision_name(int decision);

/* Canonical event bytes (fixed size for a given license id length). */
int ledger_event_encode(const ledger_event *e, uint8_t *out, size_t cap, size_t *len);
int ledger_event_decode(ledger_event *e, const uint8_t *p, size_t len) LEDGER_WUR;
/* The event's hash: its RFC 6962 leaf hash, SHA-256(0x00 || bytes). */
void ledger_event_hash(const ledger_event *e, uint8_t out[32]);

#define LEDGER_EVENT_MAX_BYTES (1 + 2 + 64 + 4 + 1 + 32 + 8 + 8 + 32)

#endif
