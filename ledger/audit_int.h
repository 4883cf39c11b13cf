/* ledger/audit_int.h: what the files of the offline verifier (audit.h)
 * share.  Private to ledger/.
 *
 *   audit.c      the checks over a license's events, the checkpoint, freshness
 *   audit_gov.c  the governance record a bundle carries: its events checked
 *                (log, chain, state) and replayed from genesis into the
 *                membership in force at every height */
#ifndef PERMIT_LEDGER_AUDIT_INT_H
#define PERMIT_LEDGER_AUDIT_INT_H

#include <stdint.h>

#include "audit.h"
#include "bundle.h"
#include "gov.h"

/* The membership in force from block `from` on (until the next version). */
typedef struct {
    uint64_t from;
    ledger_gov *gv;
} audit_gov_version;

typedef struct {
    size_t n;
    audit_gov_version *v; /* ascending by from; v[0] is genesis, from 0 */
} audit_gov_history;

/* Checks 2 to 5 on the bundle's governance record and events (none: the
 * membership is genesis throughout), then the history of the membership.
 * 0, or -1 with f filled (the failure names "governance event N"). */
int ledger_audit_gov(const ledger_genesis *g, const ledger_bundle *b, const ledger_header *h,
                     audit_gov_history *out, ledger_audit_failure *f);
/* The membership in force at block `height`. */
const ledger_gov *ledger_audit_gov_at(const audit_gov_history *hist, uint64_t height);
void ledger_audit_gov_free(audit_gov_history *hist);

/* audit.c's failure helper: fills f, returns -1. */
int ledger_audit_failed(ledger_audit_failure *f, int check, long event, uint64_t height,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
