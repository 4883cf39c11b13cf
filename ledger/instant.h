/* ledger/instant.h: 秒批, the rule `instant` (DESIGN §2, docs/rules.md).
 *
 * A permit item the catalogue marks `instant` is approved by the ledger in
 * the block of the APPLY when the application takes the commitment route,
 * the holder signed the pledge, and no license of the applicant's USCC was
 * revoked within `instant_ban` before it (数据比对).  What the rule compares
 * with is the USCC record `USCC-<uscc>`: a record under state_root, like a
 * license, listing the revocations of the USCC's licenses in log order,
 * append-only (docs/formats.md "USCC record").  Because it only grows, the
 * record at any later block lists every revocation before a given APPLY, so
 * the offline auditor decides the rule from the record's proof at the
 * bundle's block exactly as the block did.
 *
 * The block (exec_rules.c) and the auditor (audit.c) call the same pure
 * function, ledger_instant_decide; nothing here touches storage. */
#ifndef PERMIT_LEDGER_INSTANT_H
#define PERMIT_LEDGER_INSTANT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "genesis.h"
#include "license.h"
#include "limits.h"

#define LEDGER_USCC_ID_PREFIX "USCC-"
/* Revocations a USCC record lists.  Past them it notes only the log index
 * of the first one left out (uscc_revocations_full): the rule then approves
 * nothing for an APPLY after it. */
#define LEDGER_USCC_REVOCATIONS_MAX 64
#define LEDGER_MAX_USCC_RECORD (1 + 2 + 23 + 1 + LEDGER_USCC_REVOCATIONS_MAX * \
                                (8 + 8 + 2 + LEDGER_MAX_LICENSE_ID) + 1 + 8)

typedef struct {
    uint64_t log_index;      /* of the REVOKE's event */
    uint64_t time;           /* its block time, ms */
    char license_id[LEDGER_MAX_LICENSE_ID + 1];
} ledger_revocation;

typedef struct {
    char uscc[19];
    size_t n;                /* <= LEDGER_USCC_REVOCATIONS_MAX, ascending log_index */
    ledger_revocation v[LEDGER_USCC_REVOCATIONS_MAX];
    int full;                /* a revocation was left out: */
    uint64_t unlisted_from;  /* the log index of the first one */
} ledger_uscc_record;

/* "USCC-<uscc>" into out (at least 24 bytes). */
void ledger_uscc_record_id(const char *uscc, char *out, size_t cap);
/* 1 when id names a USCC record (starts with "USCC-"). */
int ledger_uscc_is_record_id(const char *id);
/* 1 when id names a license: neither the governance record nor a USCC record. */
int ledger_is_license_id(const char *id);

/* Canonical bytes (docs/formats.md), *out malloc'd. */
int ledger_uscc_record_encode(const ledger_uscc_record *u, uint8_t **out, size_t *len,
                              ledger_err *err) LEDGER_WUR;
/* Bounded decode: counts checked before use, log indices strictly ascending,
 * trailing bytes refused. */
int ledger_uscc_record_decode(ledger_uscc_record *u, const uint8_t *p, size_t len,
                              ledger_err *err) LEDGER_WUR;
/* Append a revocation (log_index after every listed one); once the list is
 * full the first one left out is noted instead. */
void ledger_uscc_record_add(ledger_uscc_record *u, uint64_t log_index, uint64_t time,
                            const char *license_id);

/* Why the rule approved nothing (or "instant" when it did). */
typedef struct {
    const char *rule;        /* "instant", or the skip's name (docs/rules.md) */
    char detail[200];
} ledger_instant_why;

/* The rule `instant` for license lic just created by an APPLY at block time
 * `now` whose event gets log index `log_index`, under the membership m in
 * force at that block, with u the USCC record as it stands (NULL: none
 * exists).  The record may be a later one: only revocations with a log
 * index before the APPLY's count.  Returns the items to approve as a bit
 * mask (bit j: item j), 0 when none, and fills why. */
uint32_t ledger_instant_decide(const ledger_genesis *m, const ledger_license *lic, uint64_t now,
                               uint64_t log_index, const ledger_uscc_record *u,
                               ledger_instant_why *why);

/* Approve the items of mask by the rule at `now`: decision INSTANT, verified
 * (no department verifies what it delegated); ISSUED when every item is. */
void ledger_instant_approve(ledger_license *lic, uint32_t mask, uint64_t now);

#endif
