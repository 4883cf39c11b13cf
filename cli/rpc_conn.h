/* cli/rpc_conn.h: the permit client's connection to a node: TCP with a
 * deadline on every step (poll on a non-blocking socket), and for https://
 * TLS 1.2 or later over the same socket, the node's certificate checked
 * against the CA file given (or the system's) and the URL's host name or IP
 * address.  Failures fill a cli_error with CLI_EXIT_UNAVAILABLE (or
 * CLI_EXIT_USAGE for an unusable CA file) naming the URL. */
#ifndef PERMIT_CLI_RPC_CONN_H
#define PERMIT_CLI_RPC_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"

struct ssl_ctx_st;
struct ssl_st;

typedef struct {
    const char *url;    /* for messages */
    const char *host;   /* for getaddrinfo and the certificate check: no brackets */
    const char *port;   /* decimal */
    const char *cacert; /* NULL: the system's trust store */
    int timeout_ms;     /* for the message when connecting times out */
} cli_conn_target;

typedef struct {
    int fd;             /* -1 when closed */
    struct ssl_ctx_st *ctx;
    struct ssl_st *ssl; /* https only */
} cli_conn;

int64_t cli_conn_mono_ms(void);
/* TCP to the target by the deadline (monotonic ms): CLI_EXIT_OK and *fd. */
int cli_conn_dial(const cli_conn_target *t, int64_t deadline, int *fd, cli_error *err);
/* TLS client handshake on k->fd by the deadline. */
int cli_conn_tls(const cli_conn_target *t, cli_conn *k, int64_t deadline, cli_error *err);
/* Send all n bytes by the deadline. */
int cli_conn_send_all(const cli_conn_target *t, cli_conn *k, const char *p, size_t n,
                      int64_t deadline, cli_error *err);
/* Bytes read (> 0), 0 at the end of the stream, -1 with errno (ETIMEDOUT). */
ssize_t cli_conn_read(cli_conn *k, char *p, size_t cap, int64_t deadline);
/* Close and free; k->fd is -1 after. */
void cli_conn_close(cli_conn *k);

#endif
