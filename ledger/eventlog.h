/* ledger/eventlog.h: reading the chain-wide event log in order, block by
 * block, for the node's event stream (GET /events, docs/rpc.md).
 *
 * Every committed transaction appends exactly one event (ledger_exec_record_tx),
 * in block order, so the events of block h are the log indices
 * [log_size(h-1), log_size(h)) and the k-th of them is the event of the
 * block's k-th transaction.  The store keeps events by license and seq; these
 * readers find an index's event from its transaction and a search over that
 * license's seqs, without any index of their own: nothing here writes.
 *
 * Reminders (无感智办) are derived, not logged: the reminders of block h are the
 * live licenses (ISSUED, ISSUED_UNVERIFIED, SUSPENDED) whose renewal window,
 * as their industry defines it, opens in (time(h-1), time(h)] by their
 * current expires_at.  They follow from the state when read: a license
 * renewed, revoked or cancelled since has none for the old expiry.
 *
 * Reads only; any thread (like every ledger_get_*). */
#ifndef PERMIT_LEDGER_EVENTLOG_H
#define PERMIT_LEDGER_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "genesis.h"
#include "ledger.h"
#include "license.h"

/* At most this many reminders for one block (the rest are not reported;
 * one block's interval is a heartbeat at most, so reaching it means that
 * many licenses open their window within seconds). */
#define LEDGER_REMINDERS_MAX_PER_BLOCK 1000

#define LEDGER_DEPT_ID_MAX 64

/* One event of the log, with what a subscriber filters on. */
typedef struct {
    uint64_t index;                 /* in the event log */
    ledger_event ev;                /* license id, seq, kind, tx id, height, block time */
    uint8_t signer[32];             /* the transaction's signer */
    size_t n_departments;           /* the departments owning the license's items */
    char departments[LEDGER_MAX_ITEMS][LEDGER_DEPT_ID_MAX + 1];
} ledger_log_event;

/* A license whose renewal window opened in a block. */
typedef struct {
    char license_id[LEDGER_MAX_LICENSE_ID + 1];
    uint64_t height;                /* the block */
    uint64_t time;                  /* its time */
    uint64_t opens;                 /* expires_at - renewal window */
    uint64_t expires_at;
    char industry[65];
    int status;                     /* effective status at the block's time */
    size_t n_departments;
    char departments[LEDGER_MAX_ITEMS][LEDGER_DEPT_ID_MAX + 1];
} ledger_reminder;

/* A block's place in the log. */
typedef struct {
    uint64_t height;
    uint64_t time, prev_time;       /* its time and the previous block's (genesis time for 1) */
    uint64_t first, end;            /* its events are [first, end) */
} ledger_log_block;

/* The block of height `height` (1 ≤ height ≤ tip): 1, or 0 when absent, -1
 * on error. */
int ledger_log_block_get(ledger *L, uint64_t height, ledger_log_block *b,
                         ledger_err *err) LEDGER_WUR;

/* The height of the block holding event `index`: the lowest height whose
 * log_size exceeds it (a binary search over the headers).  1 with *height;
 * 0 when the log does not reach index yet; -1 on error. */
int ledger_log_find(ledger *L, uint64_t index, uint64_t *height, ledger_err *err) LEDGER_WUR;

/* The events of block b from index `from` (b->first ≤ from ≤ b->end), at most
 * max, into out[]; *n how many.  0, or -1 on error. */
int ledger_log_events(ledger *L, const ledger_log_block *b, uint64_t from, size_t max,
                      ledger_log_event *out, size_t *n, ledger_err *err) LEDGER_WUR;

/* The reminders of block b in (opens, license id) order, those after the key
 * (after_opens, after_id) when after_id is not NULL, at most max, into out[]
 * (*n).  0, or -1 on error. */
int ledger_log_reminders(ledger *L, const ledger_log_block *b, uint64_t after_opens,
                         const char *after_id, size_t max, ledger_reminder *out, size_t *n,
                         ledger_err *err) LEDGER_WUR;

#endif
