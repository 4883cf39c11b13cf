/* ledger/audit_json.h: a verified audit report as JSON (docs/cli.md,
 * `permit audit --json`): license_id, status, stored_status, name, events,
 * height, block_hash, time, certified_by [{department, name}], validators,
 * log_size, log_root, state_root, consistency_checked, gov_events, and the
 * age against the auditor's clock (now, age_ms, ahead_ms, stale_after_ms,
 * stale, max_age_ms, status_now).  Shared by the CLI and the browser
 * verifier so that both say the same thing about the same bundle. */
#ifndef PERMIT_LEDGER_AUDIT_JSON_H
#define PERMIT_LEDGER_AUDIT_JSON_H

#include <jansson.h>

#include "audit.h"

/* The report of a bundle that ledger_audit_verify accepted, with its age
 * from ledger_audit_freshness; NULL when memory ran out.  The caller owns
 * the result (json_decref). */
json_t *ledger_audit_report_json(const ledger_genesis *g, const ledger_audit_report *r,
                                 const ledger_audit_age *age);

#endif
