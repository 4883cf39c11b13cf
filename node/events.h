/* node/events.h: GET /events, the committed events as Server-Sent Events
 * (DESIGN §7, docs/rpc.md "GET /events").
 *
 * Each stream walks the chain block by block from its position: the
 * block's events (id = the event-log index), then its reminders (licenses
 * whose renewal window opened in that block; id r<height>-<opens>-<license>),
 * so a position is a stream id and Last-Event-ID resumes exactly after it.
 * Events are read from the database in bounded batches on the loop thread
 * (ledger/eventlog.h): a stream catching up reads its next batch only once
 * the previous one has left for the socket; a stream at the tip is fed as
 * each block commits (node_events_committed).
 *
 * Bounds: rpc_max_streams streams at once (503 beyond); rpc_stream_buffer
 * unsent bytes per stream (a reader that lets more pile up is dropped; one
 * batch may pass it), a 64 KiB socket send buffer; a stream whose reader
 * takes nothing for rpc_timeout is dropped; a comment every
 * rpc_stream_keepalive.  Loop thread only. */
#ifndef PERMIT_NODE_EVENTS_H
#define PERMIT_NODE_EVENTS_H

#include "ledger/err.h"

typedef struct node node;
struct evhttp_request;

/* Messages (events and reminders) one batch reads at most, and blocks it
 * walks at most. */
#define NODE_EVENTS_BATCH 64
#define NODE_EVENTS_BATCH_BLOCKS 256
/* The socket send buffer of a stream (the kernel's share of what a slow
 * reader has not taken). */
#define NODE_EVENTS_SNDBUF (64 * 1024)

/* Start the streams' state (after the RPC server). */
int node_events_start(node *n, ledger_err *err);

/* The evhttp callback of GET /events. */
void node_events_on_request(struct evhttp_request *req, void *arg);

/* A block was committed (or applied): feed the streams at the tip. */
void node_events_committed(node *n);

/* Streams open now (for /metrics). */
unsigned node_events_count(const node *n);

/* Streams dropped since start for their unsent bytes. */
unsigned long long node_events_dropped(const node *n);

/* End every stream and free the state (before the RPC server is freed). */
void node_events_free(node *n);

#endif
