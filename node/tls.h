/* node/tls.h: the TLS 1.3 context of the p2p links (DESIGN §6).
 *
 * Each node makes, at start, an ephemeral P-256 key and a self-signed
 * certificate for it, in memory only (no files, no certificate authority).
 * Links speak TLS 1.3 and nothing older; certificates are not verified
 * (SSL_VERIFY_NONE) because they prove nothing here: a peer's identity is its
 * node key, proven by the handshake's Auth, which signs this session's
 * exporter value (node/handshake.h).  No session tickets and no session cache:
 * every link is a full handshake with fresh keys.  OpenSSL only, no libevent. */
#ifndef PERMIT_NODE_TLS_H
#define PERMIT_NODE_TLS_H

#include <stdint.h>

#include "ledger/err.h"

struct ssl_ctx_st;
struct ssl_st;

/* A context for both ends of a link (the dialer is the TLS client, the
 * acceptor the server), with a fresh key and certificate.  NULL with err on
 * failure.  Free with node_tls_ctx_free (after the links that use it, or
 * before: SSL objects hold a reference). */
struct ssl_ctx_st *node_tls_ctx_new(ledger_err *err);
void node_tls_ctx_free(struct ssl_ctx_st *ctx);

/* The session's exporter value for the handshake: 32 bytes, label
 * NODE_HS_EXPORTER_LABEL, no context.  Both ends of one session get the same
 * value.  Returns 0, or -1 when the session is not established or not
 * TLS 1.3. */
int node_tls_exporter(struct ssl_st *ssl, uint8_t out[32]) __attribute__((warn_unused_result));

/* OpenSSL's short reason string for a packed error code from its queue (or
 * a libevent bufferevent's), or NULL when the code names none. */
const char *node_tls_reason(unsigned long code);

#endif
