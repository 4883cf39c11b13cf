/* ledger/query.h: searches over the secondary indexes (license.search,
 * license.pending, license.expiring, license.overdue).
 *
 * Every query is bounded: at most `limit` results (≤ LEDGER_QUERY_MAX_LIMIT)
 * and at most LEDGER_QUERY_MAX_SCAN index entries examined per call; when
 * more may follow, next_cursor says where to resume. */
#ifndef PERMIT_LEDGER_QUERY_H
#define PERMIT_LEDGER_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"
#include "license.h"

#define LEDGER_QUERY_MAX_LIMIT 1000
#define LEDGER_QUERY_DEFAULT_LIMIT 100
#define LEDGER_QUERY_MAX_SCAN 20000
#define LEDGER_CURSOR_MAX 2048

typedef enum {
    LEDGER_Q_SEARCH = 0, /* any combination of the filters below */
    LEDGER_Q_PENDING,    /* items awaiting `department` */
    LEDGER_Q_EXPIRING,   /* active, expiring in [now, now + within_ms) */
    LEDGER_Q_OVERDUE,    /* ISSUED_UNVERIFIED past verify_deadline */
} ledger_query_kind;

typedef struct {
    ledger_query_kind kind;
    const char *uscc;      /* exact */
    const char *name;      /* prefix */
    const char *address;   /* prefix of any address text */
    const char *industry;  /* exact */
    int status;            /* effective status at `now`, or 0 for any */
    const char *department;
    uint64_t within_ms;
    uint64_t now;          /* block time that decides derived statuses */
    size_t limit;          /* 0: default */
    const char *cursor;    /* from a previous result, or NULL */
} ledger_query;

typedef struct {
    ledger_license *items;
    size_t n;
    char next_cursor[LEDGER_CURSOR_MAX + 1]; /* "" when nothing follows */
} ledger_query_result;

/* Run a query.  Bad parameters (unknown status, limit too large, malformed
 * cursor) fail with LEDGER_ERR_INVALID. */
int ledger_query_run(ledger *L, const ledger_query *q, ledger_query_result *res,
                     ledger_err *err) LEDGER_WUR;
void ledger_query_result_free(ledger_query_result *res);

#endif
