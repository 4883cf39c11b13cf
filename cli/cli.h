/* cli/cli.h: what the modules of the `permit` command share: the exit codes,
 * the error record every layer fills, the run context, and the command table
 * (DESIGN §8).
 *
 * One error convention: functions that can fail return an exit code
 * (CLI_EXIT_OK on success) and fill a caller-provided cli_error; main prints
 * it once as "permit: <message>" and exits with that code. */
#ifndef PERMIT_CLI_CLI_H
#define PERMIT_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit codes: a contract with scripts (DESIGN §8, docs/cli.md). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,       /* bad command line or unusable local input */
    CLI_EXIT_REJECTED = 2,    /* refused by a ledger rule (RPC 1002, 1003, 1006) */
    CLI_EXIT_UNAVAILABLE = 3, /* node unreachable, transport or output error,
                                 RPC 1004, 1005, -32000 */
    CLI_EXIT_VERIFY = 4,      /* verification failed */
    CLI_EXIT_NOTFOUND = 5,    /* RPC 1001 */
};

#define CLI_DEFAULT_RPC "http://127.0.0.1:8645"
#define CLI_DEFAULT_TIMEOUT_MS 15000

typedef struct {
    int exit;          /* CLI_EXIT_* */
    long rpc_code;     /* JSON-RPC error code; 0 when not an RPC error */
    char rule[64];     /* the ledger rule that refused, "" when none */
    char tx_id[65];    /* transaction the error is about, "" when none */
    char msg[1024];    /* the whole message, without the "permit: " prefix */
} cli_error;

typedef struct cli_rpc cli_rpc;

typedef struct cli_ctx {
    const char *rpc_url; /* from --rpc, $PERMIT_RPC or CLI_DEFAULT_RPC */
    int json;            /* --json */
    int timeout_ms;      /* --timeout (connect and read) */
    const char *token_file; /* --token-file or $PERMIT_TOKEN_FILE: bearer token */
    const char *cacert;  /* --cacert or $PERMIT_CACERT: CAs for an https node */
    cli_rpc *rpc;        /* opened on first use by cli_ctx_rpc; main frees it */
} cli_ctx;

/* Record a failure: sets e->exit and the message (rule and tx_id cleared)
 * and returns `code`, so callers write `return cli_fail(err, ...)`. */
int cli_fail(cli_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Read the whole regular file `path` (named by option `opt` in errors) of
 * at most `max` bytes, checked before reading; *out is NUL-terminated
 * (free it).  CLI_EXIT_OK, or an exit code with err. */
int cli_read_file(const char *opt, const char *path, size_t max, uint8_t **out, size_t *len,
                  cli_error *err);

/* Print e to stderr as "permit: <message>". */
void cli_error_print(const cli_error *e);

/* Error ordering for commands that report several outcomes (tx submit -):
 * returns whichever of the two exit codes is worse (docs/cli.md: 3 > 4 > 1 >
 * 2 > 5 > 0). */
int cli_exit_worst(int a, int b);

/* The context's RPC client, created on first use from ctx->rpc_url.
 * Returns CLI_EXIT_OK and *out, or CLI_EXIT_USAGE for a malformed URL. */
int cli_ctx_rpc(cli_ctx *ctx, cli_rpc **out, cli_error *err);

/* Call method(params) on the node and print the result: JSON with --json,
 * else through `human`.  Takes ownership of params.  Returns an exit code. */
int cli_query(cli_ctx *ctx, const char *method, json_t *params,
              void (*human)(FILE *, json_t *), cli_error *err);

/* Milliseconds since the Unix epoch from the real-time clock. */
uint64_t cli_now_ms(void);

#endif
