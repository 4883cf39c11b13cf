/* ledger/err.h: the one error convention of the ledger layer.
 *
 * Functions that can fail return 0 on success and -1 on failure and fill a
 * caller-provided ledger_err (which may be NULL when the caller does not care
 * why).  `code` says how the failure maps to RPC error codes and CLI exit
 * codes; `rule` names the ledger rule of DESIGN §4 that refused the input
 * (a static string, documented in docs/rules.md), or NULL when no rule is
 * involved (I/O, memory). */
#ifndef PERMIT_LEDGER_ERR_H
#define PERMIT_LEDGER_ERR_H

#include <stddef.h>

#define LEDGER_WUR __attribute__((warn_unused_result))

typedef enum {
    LEDGER_OK = 0,
    LEDGER_ERR_RULE,         /* refused by a ledger rule: RPC 1002, exit 2 */
    LEDGER_ERR_NOTFOUND,     /* RPC 1001, exit 5 */
    LEDGER_ERR_DUPLICATE,    /* RPC 1003 */
    LEDGER_ERR_UNAUTHORIZED, /* RPC 1006 */
    LEDGER_ERR_VERIFY,       /* a proof or signature did not verify: exit 4 */
    LEDGER_ERR_INVALID,      /* malformed configuration or file */
    LEDGER_ERR_IO,           /* storage or file system failure */
    LEDGER_ERR_NOMEM,
} ledger_code;

typedef struct {
    ledger_code code;
    const char *rule; /* static; NULL when no rule applies */
    char msg[320];
} ledger_err;

/* Record a failure in `e` (if not NULL) and return -1.  `rule` must be a
 * string literal or otherwise static. */
int ledger_fail(ledger_err *e, ledger_code code, const char *rule,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Clear `e` to LEDGER_OK (no-op on NULL). */
void ledger_err_clear(ledger_err *e);

/* Prefix the message of `e` with "prefix: " keeping code and rule. */
void ledger_err_prefix(ledger_err *e, const char *prefix);

/* Short stable name of a code ("rule", "not_found", ...). */
const char *ledger_code_name(ledger_code code);

#endif
