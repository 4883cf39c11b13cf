/* ledger/rules.h: the license state machine (DESIGN §2 "Status", §4 table).
 *
 * Pure functions: a decoded, authorised transaction and the license as it
 * stands go in; the changed license, or a refusal naming the rule, comes
 * out.  No storage, no clock: `now` is the block time. */
#ifndef PERMIT_LEDGER_RULES_H
#define PERMIT_LEDGER_RULES_H

#include <stdint.h>

#include "err.h"
#include "genesis.h"
#include "license.h"
#include "tx.h"

/* Apply `tx` (whose fields already passed ledger_tx_check_fields and whose
 * signer ledger_tx_authorize classified: `dept` is the signing department's
 * index for department kinds) to `lic` at block time `now`.
 *
 * For APPLY, `lic` must be zeroed and `new_id` is the id the ledger assigned;
 * otherwise `lic` is the current record and new_id is ignored.  On success
 * `lic` is the new record except for seq and head, which the caller advances
 * when it appends the event.  On failure `lic` may be partly changed and must
 * be discarded. */
int ledger_rules_apply(const ledger_genesis *g, const ledger_tx *tx, int dept,
                       uint64_t now, const char *new_id, ledger_license *lic,
                       ledger_err *err) LEDGER_WUR;

/* license_events_full (docs/rules.md): 0 when the license may take one more
 * event of `kind` (a permit TxKind), else -1 naming the rule.  Filings a
 * signer can repeat (AMEND, ADD/REMOVE_ADDRESS, SUSPEND, RESUME) stop at
 * LEDGER_LICENSE_FILINGS_MAX events, every kind at LEDGER_MAX_LICENSE_EVENTS. */
int ledger_rules_check_events(const ledger_license *lic, int kind, ledger_err *err) LEDGER_WUR;

/* 1 when department index `dept` owns at least one item of the license. */
int ledger_rules_owns_item(const ledger_genesis *g, const ledger_license *lic, int dept);

#endif
