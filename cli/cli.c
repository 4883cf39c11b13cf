/* cli/cli.c: the error record, the exit code order, the run context. */
#include "cli.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "rpc_client.h"

int cli_fail(cli_error *e, int code, const char *fmt, ...)
{
    if (e == NULL)
        return code;
    e->exit = code;
    e->rpc_code = 0;
    e->rule[0] = '\0';
    e->tx_id[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void cli_error_print(const cli_error *e)
{
    fprintf(stderr, "permit: %s\n", e->msg[0] ? e->msg : "failed");
    fflush(stderr);
}

/* Rank of an exit code: higher is worse. */
static int rank(int code)
{
    switch (code) {
    case CLI_EXIT_OK: return 0;
    case CLI_EXIT_NOTFOUND: return 1;
    case CLI_EXIT_REJECTED: return 2;
    case CLI_EXIT_USAGE: return 3;
    case CLI_EXIT_VERIFY: return 4;
    default: return 5; /* CLI_EXIT_UNAVAILABLE and anything unexpected */
    }
}

int cli_exit_worst(int a, int b)
{
    return rank(b) > rank(a) ? b : a;
}

int cli_ctx_rpc(cli_ctx *ctx, cli_rpc **out, cli_error *err)
{
    if (ctx->rpc == NULL) {
        int rc = cli_rpc_new(&ctx->rpc, ctx->rpc_url, ctx->timeout_ms, err);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    *out = ctx->rpc;
    return CLI_EXIT_OK;
}

uint64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
