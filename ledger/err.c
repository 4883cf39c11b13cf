#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ledger_fail(ledger_err *e, ledger_code code, const char *rule,
                const char *fmt, ...)
{
    if (e == NULL)
        return -1;
    e->code = code;
    e->rule = rule;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

void ledger_err_clear(ledger_err *e)
{
    if (e == NULL)
        return;
    e->code = LEDGER_OK;
    e->rule = NULL;
    e->msg[0] = '\0';
}

void ledger_err_prefix(ledger_err *e, const char *prefix)
{
    if (e == NULL)
        return;
    char tmp[sizeof e->msg];
    size_t n = strlen(prefix);
    if (n > sizeof tmp - 3)
        n = sizeof tmp - 3;
    memcpy(tmp, prefix, n);
    tmp[n] = ':';
    tmp[n + 1] = ' ';
    size_t rest = sizeof tmp - n - 2;
    size_t m = strnlen(e->msg, sizeof e->msg);
    if (m > rest - 1)
        m = rest - 1;
    memcpy(tmp + n + 2, e->msg, m);
    tmp[n + 2 + m] = '\0';
    memcpy(e->msg, tmp, sizeof tmp);
}

const char *ledger_code_name(ledger_code code)
{
    switch (code) {
    case LEDGER_OK: return "ok";
    case LEDGER_ERR_RULE: return "rule";
    case LEDGER_ERR_NOTFOUND: return "not_found";
    case LEDGER_ERR_DUPLICATE: return "duplicate";
    case LEDGER_ERR_UNAUTHORIZED: return "unauthorized";
    case LEDGER_ERR_VERIFY: return "verification_failed";
    case LEDGER_ERR_INVALID: return "invalid";
    case LEDGER_ERR_IO: return "io";
    case LEDGER_ERR_NOMEM: return "out_of_memory";
    }
    return "unknown";
}
