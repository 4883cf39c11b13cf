/* node/rpc_auth.h: who may use the JSON-RPC server (DESIGN §7).
 *
 * On a loopback address the RPC needs nothing.  Any other rpc_listen needs
 * HTTPS (rpc_tls_cert, rpc_tls_key) and bearer tokens (rpc_tokens), or the
 * node does not start.  The token file holds one `name role token` a line
 * (# comments and blank lines allowed): role `read` may call every method
 * but tx.submit and read /metrics, role `submit` may call every method.
 * Tokens are 16..256 printable characters without spaces, unique, at most
 * RPC_AUTH_MAX_TOKENS of them; they are compared in constant time. */
#ifndef PERMIT_NODE_RPC_AUTH_H
#define PERMIT_NODE_RPC_AUTH_H

#include <stddef.h>

#include "config.h"
#include "ledger/err.h"

#define RPC_AUTH_MAX_TOKENS 1024
#define RPC_AUTH_TOKEN_MIN 16
#define RPC_AUTH_TOKEN_MAX 256

typedef enum { RPC_ROLE_NONE = 0, RPC_ROLE_READ, RPC_ROLE_SUBMIT } rpc_role;

typedef struct rpc_auth rpc_auth;
struct ssl_ctx_st;

/* 1 when host (as in rpc_listen, without brackets) is a loopback address:
 * 127.0.0.0/8, ::1, or "localhost". */
int node_rpc_is_loopback(const char *host);

/* The server's access rules from cfg for an RPC listening on host: NULL
 * with err naming the missing or bad setting when the node must not start.
 * Relative paths are taken from DIR/config. */
rpc_auth *node_rpc_auth_new(const node_config *cfg, const char *host, ledger_err *err);
void node_rpc_auth_free(rpc_auth *a);

/* The HTTPS context, or NULL when the RPC is plain HTTP. */
struct ssl_ctx_st *node_rpc_auth_tls(const rpc_auth *a);
/* 1 when calls need a token. */
int node_rpc_auth_required(const rpc_auth *a);

/* The role of an Authorization header's bearer token (NULL: none given):
 * RPC_ROLE_NONE when missing or unknown; *name, when given, the token's
 * name (for the log). */
rpc_role node_rpc_auth_check(const rpc_auth *a, const char *authorization, const char **name);

#endif
