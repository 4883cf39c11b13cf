/* cli/rpc_client.h: a small blocking JSON-RPC 2.0 client over HTTP/1.1.
 *
 * One TCP connection per call ("Connection: close"): POST <path> with a
 * JSON-RPC request whose params are by name (docs/rpc.md).  Connecting,
 * sending and reading are bounded by deadlines; the response head by
 * CLI_RPC_MAX_HEAD bytes and its body (Content-Length, chunked, or up to the
 * end of the connection) by CLI_RPC_MAX_BODY.  http:// and https:// (the
 * node's certificate verified against --cacert, or the system's CAs).
 *
 * Errors map to the CLI's exit codes (cli_rpc_exit_code): a node that
 * cannot be reached, a broken or oversized response, an HTTP status other
 * than 200 are CLI_EXIT_UNAVAILABLE; a JSON-RPC error keeps its code,
 * data.rule and data.tx_id in the cli_error. */
#ifndef PERMIT_CLI_RPC_CLIENT_H
#define PERMIT_CLI_RPC_CLIENT_H

#include <jansson.h>

#include "cli.h"

#define CLI_RPC_MAX_BODY ((size_t)64 << 20) /* 64 MiB */
#define CLI_RPC_MAX_HEAD ((size_t)64 << 10) /* status line and headers */

/* Make a client for url, "http[s]://host[:port][/path]" (host a name, an IPv4
 * address or a bracketed IPv6 literal; port 80 or 443 when absent; path /rpc when
 * absent or "/").  timeout_ms bounds connecting and, separately, the wait
 * for the response.  No connection is made yet.  Returns CLI_EXIT_OK and
 * *out (free with cli_rpc_free), or CLI_EXIT_USAGE naming what is wrong with
 * the URL. */
int cli_rpc_new(cli_rpc **out, const char *url, int timeout_ms, cli_error *err)
    __attribute__((warn_unused_result));

/* Credentials for the calls: the bearer token on the first line of
 * token_file (not readable by every user), and the CA certificates (PEM)
 * that an https node's certificate must chain to; either may be NULL. */
int cli_rpc_set_credentials(cli_rpc *c, const char *token_file, const char *cacert,
                            cli_error *err) __attribute__((warn_unused_result));

/* Free c; NULL-safe. */
void cli_rpc_free(cli_rpc *c);

/* The URL the client was made for. */
const char *cli_rpc_url(const cli_rpc *c);

/* Call `method` with `params` (an object, borrowed; NULL sends none).
 * extra_ms lengthens the wait for the response beyond the timeout, for calls
 * the node holds open on purpose (tx.submit waiting for the commit).
 * Returns CLI_EXIT_OK with *result (a new reference, possibly JSON null) or
 * an exit code with err filled (*result NULL). */
int cli_rpc_call(cli_rpc *c, const char *method, json_t *params, int extra_ms,
                 json_t **result, cli_error *err) __attribute__((warn_unused_result));

/* A stream of the node's GET /events (docs/rpc.md): path is "/events" with
 * its query ("/events?license=..."), beside the RPC path of the URL
 * (/rpc -> /events).  last_id, when not NULL, goes as Last-Event-ID.  Asked
 * as HTTP/1.0, so the body is the stream up to the close.  Returns
 * CLI_EXIT_OK and *out once the node answered 200; a refusal is
 * CLI_EXIT_USAGE (HTTP 400: a bad filter or id) or CLI_EXIT_UNAVAILABLE
 * (401, 503: too many streams), with the node's reason. */
typedef struct cli_stream cli_stream;
int cli_rpc_stream_open(cli_rpc *c, const char *path, const char *last_id, cli_stream **out,
                        cli_error *err) __attribute__((warn_unused_result));
/* The next line of the stream without its line end, into out (cap bytes,
 * NUL-ended): 1; 0 when the node closed the stream; -1 with err when
 * nothing arrived for idle_ms, on an error, or for a line of cap bytes or
 * more. */
int cli_stream_line(cli_stream *s, char *out, size_t cap, int idle_ms, cli_error *err);
/* Close and free; NULL-safe. */
void cli_stream_free(cli_stream *s);

/* The exit code of a JSON-RPC error code: 1001 not found (5); 1002, 1003,
 * 1006 rejected (2); -32602 invalid params (1); anything else, 1004, 1005
 * and -32000 included, unavailable (3). */
int cli_rpc_exit_code(long code);

#endif
