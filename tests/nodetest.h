/* tests/nodetest.h: running real permitd processes in tests: a home made
 * from the test chain (tests/ledgertest.h), start and stop with signals, and
 * raw HTTP / JSON-RPC on a loopback port. */
#ifndef PERMIT_NODETEST_H
#define PERMIT_NODETEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ledgertest.h"

typedef struct {
    lt_env env;          /* keys, genesis (the node does not use env.L) */
    char *home;
    int port;
    pid_t pid;
    char extra_conf[512];/* appended to permitd.conf */
} nt_node;

/* A port nobody listens on right now. */
int nt_free_port(void);

/* Create the home of a single-validator test chain (market runs the node),
 * with genesis edits as lt_setup takes them.  Does not start it. */
void nt_init(nt_node *nd, lt_genesis_edit edit);

/* Start permitd on the home and wait until /health answers (fails the test
 * after 15 s).  Extra arguments are appended to the command line. */
void nt_start(nt_node *nd, const char *const *extra_args);

/* Send a signal and wait for the process; returns its wait status. */
int nt_signal_wait(nt_node *nd, int sig);

/* Stop (SIGTERM) if running and remove everything. */
void nt_cleanup(nt_node *nd);

/* Path of a file inside the home. */
void nt_path(const nt_node *nd, const char *rel, char *out, size_t cap);

/* A blocking TCP connection to 127.0.0.1:port; -1 on failure. */
int nt_connect(int port);

/* One HTTP/1.1 request on a fresh connection.  Returns the status code (or
 * -1 if the connection failed) and the body (malloc'd, may be NULL). */
int nt_http(int port, const char *method, const char *path, const char *body, size_t len,
            char **resp, size_t *resp_len);

/* JSON-RPC call; returns the whole response object (or NULL if the HTTP
 * exchange failed).  params may be NULL; it is not consumed. */
json_t *nt_rpc(int port, const char *method, json_t *params);

/* The error code of a response (0 when it has a result). */
int nt_error_code(json_t *resp);
/* data.rule of an error response, or "". */
const char *nt_error_rule(json_t *resp);

/* Submit an envelope (hex-encoded here) and wait for its commit. */
json_t *nt_submit(int port, const uint8_t *env, size_t len, const char *wait);

/* Wall clock in ms. */
uint64_t nt_now_ms(void);

#endif
