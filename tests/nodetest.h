/* tests/nodetest.h: running real permitd processes in tests: a home made
 * from the test chain (tests/ledgertest.h), start and stop with signals, and
 * raw HTTP / JSON-RPC on a loopback port. */
#ifndef PERMIT_NODETEST_H
#define PERMIT_NODETEST_H

#include <jansson.h>
#include <stdarg.h>
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

/* A network of several validators (the first n departments of the test
 * chain), each node its own permitd process on loopback. */
#define NT_MAX_NODES 6

typedef struct {
    lt_env env;             /* keys and genesis */
    unsigned n;
    char *home[NT_MAX_NODES];
    int rpc_port[NT_MAX_NODES], p2p_port[NT_MAX_NODES];
    pid_t pid[NT_MAX_NODES];
    char extra_conf[512];
} nt_cluster;

/* Make the homes of an n-validator chain (n ≤ NT_MAX_NODES); starts nothing. */
void nt_cluster_init(nt_cluster *c, unsigned n, lt_genesis_edit edit);
/* Start node i and wait for its /health. */
void nt_cluster_start(nt_cluster *c, unsigned i);
/* Signal node i and wait for it; returns the wait status. */
int nt_cluster_signal(nt_cluster *c, unsigned i, int sig);
/* SIGTERM node i and fail, showing the end of its log, unless it exits 0. */
void nt_cluster_stop_clean(nt_cluster *c, unsigned i);
/* Remove node i's data folder (it must be stopped). */
void nt_cluster_wipe(nt_cluster *c, unsigned i);
/* Stop everything and remove the homes. */
void nt_cluster_cleanup(nt_cluster *c);

/* A port nobody listens on right now. */
int nt_free_port(void);
/* The first of `count` ports in a row that nobody listens on right now. */
int nt_free_port_range(int count);

/* Start permitd on a home whose config is written already (permit testnet)
 * and wait until /health answers on rpc_port; its log goes to HOME/permitd.log. */
pid_t nt_start_home(const char *home, int rpc_port);

/* Create the home of a single-validator test chain (market runs the node),
 * with genesis edits as lt_setup takes them.  Does not start it. */
void nt_init(nt_node *nd, lt_genesis_edit edit);

/* Start permitd on the home and wait until /health answers (fails the test
 * after 15 s).  Extra arguments are appended to the command line. */
void nt_start(nt_node *nd, const char *const *extra_args);

/* The same without waiting for anything (a node that must refuse to
 * start, or whose RPC /health cannot be reached over plain HTTP). */
void nt_spawn(nt_node *nd, const char *const *extra_args);

/* Send a signal and wait for the process; returns its wait status. */
int nt_signal_wait(nt_node *nd, int sig);

/* Stop (SIGTERM) if running and remove everything. */
void nt_cleanup(nt_node *nd);

/* Path of a file inside the home. */
void nt_path(const nt_node *nd, const char *rel, char *out, size_t cap);

/* A blocking TCP connection to 127.0.0.1:port; -1 on failure. */
int nt_connect(int port);
/* When set, nt_connect (so every RPC helper here) returns hook(port)
 * instead: a test whose nodes listen in other network namespaces makes the
 * socket there (tests/test_wan.c).  Set it before any thread uses it. */
extern int (*nt_connect_hook)(int port);

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
void nt_sleep_ms(long ms);

/* An integer field of the `status` answer of the node on rpc_port (0 when
 * the call fails), e.g. "height" or "peers". */
uint64_t nt_status_u64(int rpc_port, const char *field);

/* Run build/bin/permit --rpc RPC with the arguments in ap (NULL-ended);
 * returns its exit code (128 if it did not exit), and its output (stdout
 * and stderr, interleaved) in *out when out is not NULL (free it). */
int nt_vpermit(const char *rpc, char **out, va_list ap);
/* The same with the arguments in a NULL-ended array. */
int nt_permitv(const char *rpc, char **out, const char *const *args);

#endif
