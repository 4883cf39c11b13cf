/* node/config.h: permitd's settings.  One table of options drives the
 * config file (DIR/config/permitd.conf, `key = value` lines, # comments),
 * the command-line flags (--key value or --key=value, which override the
 * file) and --help. */
#ifndef PERMIT_NODE_CONFIG_H
#define PERMIT_NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ledger/err.h"

#define NODE_PATH_MAX 1024

typedef struct {
    char home[NODE_PATH_MAX];
    char rpc_listen[256];        /* host:port */
    char rpc_tls_cert[NODE_PATH_MAX]; /* "" unless HTTPS; relative to DIR/config */
    char rpc_tls_key[NODE_PATH_MAX];
    char rpc_tokens[NODE_PATH_MAX];   /* "" unless bearer tokens are required */
    char p2p_listen[256];
    char role[16];               /* "validator" or "observer" */
    char public_listen[256];     /* "" (off) or host:port of the public site */
    char public_url[512];        /* "" or the site's public base URL (QR codes) */
    char public_web_dir[NODE_PATH_MAX]; /* "" (beside the binary) or the verifier's folder */
    int log_level;
    char log_format[8];          /* "text" or "json" */
    char log_file[NODE_PATH_MAX]; /* "": stderr */
    uint64_t rpc_max_body;       /* bytes */
    uint64_t rpc_timeout_ms;     /* idle/slow connections are dropped after this */
    uint64_t rpc_workers;        /* 0: one per core */
    uint64_t rpc_queue;          /* requests waiting for a worker before 503 */
    uint64_t rpc_max_streams;    /* GET /events streams at once (503 beyond) */
    uint64_t rpc_stream_buffer;  /* unsent bytes a stream may hold before it is dropped */
    uint64_t rpc_stream_keepalive_ms; /* comment line on idle streams */
    uint64_t mempool_max_txs;
    uint64_t mempool_max_bytes;
    uint64_t shutdown_grace_ms;  /* how long shutdown waits for a block in progress */
    uint64_t timeout_propose_ms; /* consensus timeouts (round 0; each round adds delta) */
    uint64_t timeout_vote_ms;
    uint64_t timeout_delta_ms;
    uint64_t max_clock_drift_ms; /* proposals further ahead of our clock are not voted for */
} node_config;

/* Defaults for every option. */
void node_config_defaults(node_config *c);

/* Parse the command line: --home DIR is required (or PERMITD_HOME); the
 * config file of that home is read first, flags override it.  Returns 0;
 * 1 when --help or --version was handled (exit 0); -1 on error (err says
 * which option or line). */
int node_config_load(node_config *c, int argc, char **argv, ledger_err *err);

/* Write every option with its value and help as a config file. */
void node_config_print(const node_config *c, FILE *f);

/* Split "host:port" (IPv6 in brackets); -1 on a malformed address. */
int node_split_hostport(const char *s, char *host, size_t hostcap, uint16_t *port);

#endif
