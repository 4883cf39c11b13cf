/* node/node.h: one running node: its ledger, mempool, RPC server, block
 * engine and the event loop that ties them together.
 *
 * Threads: the event-loop thread owns every libevent object, the mempool and
 * the table of clients waiting for commits.  RPC workers (node/workers.h)
 * parse requests, verify signatures and read the ledger; the engine's
 * executor thread executes and commits blocks.  Other threads never touch
 * loop-owned state: they hand results back with node_post. */
#ifndef PERMIT_NODE_NODE_H
#define PERMIT_NODE_NODE_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "ledger/genesis.h"
#include "ledger/keys.h"
#include "ledger/ledger.h"
#include "mempool.h"
#include "metrics.h"
#include "workers.h"

struct event_base;
struct event;
struct evhttp;
typedef struct node_engine node_engine;
typedef struct rpc_req rpc_req;
typedef struct waiter waiter;

typedef struct node node;
typedef void (*node_post_fn)(node *n, void *arg);

typedef struct post_item {
    node_post_fn fn;
    void *arg;
    struct post_item *next;
} post_item;

struct node {
    node_config cfg;
    ledger_genesis *g;
    ledger *L;
    ledger_keypair key;          /* node key */
    int validator;               /* index in g->validators, or -1 */
    int dept;                    /* index in g->departments, or -1 */
    int observer;                /* role = observer: 0; else -1 */

    struct event_base *base;
    struct evhttp *http;
    struct rpc_auth *rpc_auth;   /* HTTPS and bearer tokens (rpc_auth.h) */
    struct node_listen_guard *rpc_guard; /* pauses accept() at the descriptor limit */
    struct node_public *pub;     /* the public site (public.h), or NULL when off */
    struct node_events *events;  /* GET /events streams (events.h), loop-owned */
    struct event *sigint_ev, *sigterm_ev, *sighup_ev, *post_ev;
    node_mempool *mp;
    node_workers *workers;
    node_engine *engine;
    node_metrics metrics;

    /* mempool figures for other threads (the mempool itself is loop-owned) */
    _Atomic uint64_t mp_size, mp_bytes;
    /* the engine's view, for other threads */
    _Atomic unsigned peers;
    _Atomic unsigned observers;      /* observers linked to this validator */
    _Atomic int syncing;
    _Atomic uint32_t round;          /* the consensus round of the height being decided */
    _Atomic uint64_t sync_target;    /* the highest height known decided (BFT) */
    uint64_t started_ms;             /* wall clock at start: /health's grace */

    /* clients waiting for a transaction's block: loop-owned hash table */
    waiter **waiters;
    size_t n_waiter_buckets;
    rpc_req *rpc_active;         /* requests in flight, loop-owned */

    pthread_mutex_t post_mu;
    post_item *post_head, *post_tail;

    int stopping;
    int lock_fd;
};

/* Open everything a node needs (genesis, key, ledger, lock) from cfg and
 * start its servers on a new event base.  Returns 0, or -1 with err. */
int node_start(node *n, const node_config *cfg, ledger_err *err);

/* Run the event loop until node_stop; then shut down in order. */
int node_run(node *n);

/* Ask the loop to stop (from the loop thread or a signal handler event). */
void node_stop(node *n);

/* Release everything; NULL-safe parts. */
void node_close(node *n);

/* Run fn(n, arg) on the event-loop thread soon.  Safe from any thread. */
void node_post(node *n, node_post_fn fn, void *arg);

/* Wall clock, milliseconds since the epoch. */
uint64_t node_now_ms(void);

/* The outcome of a transaction the engine finished with: committed (err is
 * NULL; res says where) or refused (err says why).  Loop thread only: it
 * answers every client waiting for that transaction. */
void node_tx_finished(node *n, const uint8_t tx_id[32], const ledger_tx_result *res,
                      uint64_t height, const ledger_err *err);

/* Refresh the mempool figures other threads read. */
void node_mempool_changed(node *n);

#endif
